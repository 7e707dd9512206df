import { Agent, get, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningRuntime } from '../../../src/runtime/server.ts';
import { Peer } from '../ws/harness.ts';
import { startTestRuntime } from './helpers.ts';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The request went out on a connection this agent had already used. */
  reused: boolean;
}

/** One client connection: an agent that keeps at most one socket alive. */
const connection = () => new Agent({ keepAlive: true, maxSockets: 1 });

/** Retries `check` until it holds: a closed socket reaches the server a moment after the client. */
async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function request(url: string, agent: Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body,
          reused: req.reusedSocket,
        }),
      );
    });
    req.on('error', reject);
  });
}

describe('maxConnections: one budget for HTTP and /ws per replica', () => {
  let runtime: RunningRuntime;
  let wsUrl: string;
  const agents: Agent[] = [];
  const open = () => {
    const agent = connection();
    agents.push(agent);
    return agent;
  };

  beforeAll(async () => {
    runtime = await startTestRuntime({ maxConnections: 2 });
    wsUrl = `${runtime.url.replace(/^http/, 'ws')}/ws`;
  });
  afterAll(async () => {
    for (const agent of agents) agent.destroy();
    await runtime?.close();
  });

  it('serves N keep-alive connections, answers the N+1st 503 with Retry-After and Connection: close', async () => {
    const [a, b, c] = [open(), open(), open()];
    expect((await request(`${runtime.url}/v2`, a)).status).toBe(200);
    expect((await request(`${runtime.url}/v2`, b)).status).toBe(200);

    const refused = await request(`${runtime.url}/v2`, c);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.headers.connection).toBe('close');
    expect(JSON.parse(refused.body)).toEqual({
      error: expect.stringMatching(/^too many connections: this replica serves at most 2 HTTP and WebSocket/),
    });

    // The admitted connections stay served, on their own sockets.
    const again = await request(`${runtime.url}/v2/models/mnist-cnn`, a);
    expect(again).toMatchObject({ status: 200, reused: true });

    // Probes and scrapes are served over the limit and take no slot.
    for (const path of ['/healthz', '/readyz', '/v2/health/live', '/v2/health/ready', '/metrics']) {
      expect((await request(`${runtime.url}${path}`, open())).status, path).toBe(200);
    }

    // A WebSocket at the limit still gets 1013.
    const peer = await Peer.connect(wsUrl);
    expect(await peer.closedWith()).toEqual({ code: 1013, reason: 'too many sessions, retry later' });

    // One admitted connection closes: a new one is served.
    a.destroy();
    await eventually(
      async () => (await request(`${runtime.url}/v2`, open())).status === 200,
      5000,
      'a slot to free up',
    );
    for (const agent of [b, c]) agent.destroy();
  });

  it('counts a WebSocket session in the same budget as HTTP connections', async () => {
    // Start from an empty budget: every earlier client is gone.
    for (const agent of agents) agent.destroy();
    const held = open();
    await eventually(
      async () => (await request(`${runtime.url}/v2`, held)).status === 200,
      5000,
      'the earlier connections to be released',
    );
    const session = await Peer.connect(wsUrl);
    expect(session.welcome.type).toBe('welcome');

    const refused = await request(`${runtime.url}/v2`, open());
    expect(refused.status).toBe(503);

    await session.close();
    await eventually(
      async () => (await request(`${runtime.url}/v2`, open())).status === 200,
      5000,
      'the session slot to free up',
    );
  });
});
