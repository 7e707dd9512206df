import { afterEach, expect, it } from 'vitest';
import type { RunningRuntime } from '../../../src/runtime/server.ts';
import { openSocket, startTestRuntime } from './helpers.ts';

// Slow clients cannot hold a replica's connection slots: a request whose headers or body do not
// arrive in time is answered 408 and its connection closed, which frees the slot.

let runtime: RunningRuntime | undefined;
afterEach(async () => {
  await runtime?.close();
  runtime = undefined;
});

const head = 'POST /v2/models/mnist-cnn/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n';

it('stalled uploads and trickled chunked bodies are cut after requestTimeoutMs, freeing their slots', async () => {
  runtime = await startTestRuntime({ maxConnections: 3, headersTimeoutMs: 500, requestTimeoutMs: 1500 });
  const r = runtime;
  const stalled = await Promise.all([openSocket(r.url), openSocket(r.url), openSocket(r.url)]);
  stalled[0]!.write(`${head}Content-Length: 100000\r\n\r\n{"inputs":[`);
  stalled[1]!.write(`${head}Content-Length: 100000\r\n\r\n`);
  stalled[2]!.write(`${head}Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n`);
  // One byte a while, forever: never idle, never done.
  const trickle = setInterval(() => stalled[2]!.write('1\r\n \r\n'), 200);
  const answers = stalled.map(
    (socket) =>
      new Promise<string>((resolve) => {
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
        socket.once('close', () => resolve(text));
      }),
  );
  try {
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Every slot is held: a new client is refused.
    expect((await fetch(`${r.url}/v2`)).status).toBe(503);
    const started = performance.now();
    const texts = await Promise.all(answers);
    expect(performance.now() - started).toBeLessThan(5000);
    for (const text of texts) {
      expect(text).toMatch(/^HTTP\/1\.1 408 /);
      expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toEqual({
        error: expect.stringMatching(/^request: not received in time .*requestTimeoutMs 1500 ms/),
      });
    }
    expect((await fetch(`${r.url}/v2`)).status).toBe(200);
  } finally {
    clearInterval(trickle);
  }
});

it('a connection that never finishes its headers is closed after headersTimeoutMs', async () => {
  runtime = await startTestRuntime({ headersTimeoutMs: 500, requestTimeoutMs: 1500 });
  const socket = await openSocket(runtime.url);
  socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
  socket.resume(); // read the 408, or the close is never seen
  const started = performance.now();
  await new Promise((resolve) => socket.once('close', resolve));
  expect(performance.now() - started).toBeLessThan(3000);
});

it('an idle keep-alive connection is closed after keepAliveTimeoutMs', async () => {
  runtime = await startTestRuntime({ keepAliveTimeoutMs: 300 });
  const socket = await openSocket(runtime.url);
  socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((resolve) => socket.once('data', resolve));
  socket.resume();
  const started = performance.now();
  await new Promise((resolve) => socket.once('close', resolve));
  expect(performance.now() - started).toBeLessThan(3000);
});
