import { connect, type Socket } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RunningRuntime } from '../../../src/runtime/server.ts';
import { startTestRuntime } from './helpers.ts';

// Shutdown must end well inside Kubernetes' 30 s grace period whatever the clients do: a socket
// that never sends a request (Chromium preconnects one), a keep-alive socket left open, an upload
// that stalls or is aborted. Node alone would wait for its headers timeout (60 s) or fastify's
// keep-alive timeout (72 s). The bounds below are far under those, far over a healthy close.

let runtime: RunningRuntime | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await runtime?.close();
  runtime = undefined;
});

/** A raw TCP connection to the runtime, open once connected. */
async function openSocket(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  sockets.push(socket);
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  return socket;
}

const ended = (socket: Socket) =>
  new Promise<void>((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
  });

async function timedClose(r: RunningRuntime): Promise<number> {
  const started = performance.now();
  await r.close();
  return performance.now() - started;
}

const body = (images: number) =>
  JSON.stringify({
    inputs: [
      {
        name: 'input',
        shape: [images, 1, 28, 28],
        datatype: 'FP32',
        data: new Array(images * 784).fill(0),
      },
    ],
  });

it('closes a connection that never sent a request and an idle keep-alive one, after answering what is in flight', async () => {
  runtime = await startTestRuntime();
  const r = runtime;
  const silent = await openSocket(r.url);
  const keepAlive = await openSocket(r.url);
  keepAlive.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
  await new Promise((resolve) => keepAlive.once('data', resolve));
  // Something in flight when shutdown begins: it must still be answered. Its body is read as
  // soon as the answer starts: an unread body pauses undici's parser, and the server's FIN then
  // trips undici's uncatchable assert(!this.paused) (nodejs/undici#5360, in Node 24's undici).
  const inFlight = fetch(`${r.url}/v2/models/mnist-cnn/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: body(512),
  }).then(async (answer) => ({ status: answer.status, json: await answer.json() }));
  await waitFor(
    async () => r.app.metrics.registry.getSingleMetricAsString('kinfer_http_requests_in_flight'),
    /in_flight 1$/m,
  );

  const elapsed = await timedClose(r);
  const answer = await inFlight;
  expect(answer.status).toBe(200);
  expect((answer.json as { outputs: { data: number[] }[] }).outputs[0]!.data).toHaveLength(5120);
  await Promise.all([ended(silent), ended(keepAlive)]);
  expect(elapsed).toBeLessThan(5000);
});

it('cuts an upload that stalls mid-body once the drain timeout is over', async () => {
  runtime = await startTestRuntime({ drainTimeoutMs: 1000 });
  const r = runtime;
  const stalled = await startHalfBodyUpload(r);

  const elapsed = await timedClose(r);
  expect(elapsed).toBeGreaterThanOrEqual(900);
  expect(elapsed).toBeLessThan(5000);
  stalled.abort.abort();
  await stalled.settled;
});

it('closes quickly after a client aborts its request mid-body', async () => {
  runtime = await startTestRuntime();
  const r = runtime;
  const aborted = await startHalfBodyUpload(r);
  aborted.abort.abort();
  await aborted.settled;
  // A keep-alive fetch client connection stays open too.
  expect((await fetch(`${r.url}/healthz`)).status).toBe(200);

  expect(await timedClose(r)).toBeLessThan(5000);
});

it('WebSocket clients get 1001 and an idle HTTP socket does not hold the close', async () => {
  runtime = await startTestRuntime();
  const r = runtime;
  const silent = await openSocket(r.url);
  const ws = new WebSocket(`${r.url.replace('http', 'ws')}/ws`);
  await new Promise((resolve) => ws.once('message', resolve)); // welcome
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  const elapsed = await timedClose(r);
  expect(await closed).toBe(1001);
  await ended(silent);
  expect(elapsed).toBeLessThan(5000);
});

async function waitFor(read: () => Promise<string>, pattern: RegExp): Promise<void> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const text = await read();
    if (pattern.test(text)) return;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${pattern}: ${text}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Sends half of a V2 request body, then nothing, and resolves once the server counts it in flight.
 * `settled` resolves (never rejects) when the fetch ends; `abort` cuts it from the client side.
 */
async function startHalfBodyUpload(r: NonNullable<typeof runtime>) {
  const abort = new AbortController();
  const settled = fetch(`${r.url}/v2/models/mnist-cnn/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': '100000' },
    body: new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"inputs":[{"name":"input",'));
      },
    }),
    duplex: 'half',
    signal: abort.signal,
  } as RequestInit).catch((error: Error) => error);
  await waitFor(
    async () => r.app.metrics.registry.getSingleMetricAsString('kinfer_http_requests_in_flight'),
    /in_flight 1$/m,
  );
  return { abort, settled };
}
