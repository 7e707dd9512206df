/**
 * `npm run bench:ws`: drawing-session WebSocket predictions against REST doing the same work, in
 * the same run, on the same server (a `kinfer runtime` child process, the bundled model):
 *
 *   ws    N sessions on `/ws`, each sending `{"type":"predict","pixels":[784]}` and the next one
 *         when answered (closed loop, one request in flight per session)
 *   rest  N keep-alive connections, each POSTing `{"pixels":[784]}` to `/v1/predict` the same way
 *
 * for N = 1, 100 and 1,000; prints predictions/s and p50/p99 latency of both and the ratios
 * ws/rest. Both go through the same dynamic batcher. The load generator runs in this process on
 * the same cores as the server (as wrk would). Options: --seconds N per point (default 3),
 * --sessions 1,100,1000.
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { loadMnistTest } from '../src/datasets/idx.ts';
import { bundledModelPath } from '../src/runtime/config.ts';
import { startRuntime, stopChild } from './support/child.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    sessions: { type: 'string', default: '1,100,1000' },
    model: { type: 'string', default: process.env.KINFER_MODEL ?? bundledModelPath },
  },
});
const seconds = Number(values.seconds);
const levels = values.sessions.split(',').map(Number);

// 64 real digits; the same pixels go over both transports.
const digits = await loadMnistTest();
const pixels = Array.from({ length: 64 }, (_, i) =>
  Array.from(digits.images.subarray(i * 784, i * 784 + 784)),
);
// Bodies are serialised once for both transports, so the load generator's own JSON work does not
// decide the comparison; answers are recognised by their first bytes, not parsed, on both sides.
const pixelJson = pixels.map((p) => JSON.stringify(p));
const restBodies = pixelJson.map((p) => `{"pixels":${p}}`);
const wsMessage = (n: number) => `{"type":"predict","id":${n},"pixels":${pixelJson[n % pixelJson.length]}}`;

interface Result {
  predictionsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
}

function summarise(latencies: number[], errors: number, elapsedMs: number): Result {
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? Number.NaN;
  return {
    predictionsPerSecond: (latencies.length - errors) / (elapsedMs / 1000),
    p50: at(0.5),
    p99: at(0.99),
    errors,
  };
}

/** Closed loop: `workers` loops, each sending its next request when the previous one is answered. */
async function closedLoop(
  workers: number,
  send: (worker: number, n: number) => Promise<boolean>,
): Promise<Result> {
  const run = async (ms: number) => {
    const latencies: number[] = [];
    let errors = 0;
    const end = performance.now() + ms;
    await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        let n = w;
        while (performance.now() < end) {
          const started = performance.now();
          if (!(await send(w, n++))) errors++;
          latencies.push(performance.now() - started);
        }
      }),
    );
    return { latencies, errors };
  };
  await run(500); // warm-up: connections, JIT, batcher
  const started = performance.now();
  const { latencies, errors } = await run(seconds * 1000);
  return summarise(latencies, errors, performance.now() - started);
}

async function restLoad(port: number, concurrency: number): Promise<Result> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const send = (body: string) =>
    new Promise<boolean>((resolve) => {
      const request = http.request(
        {
          host: '127.0.0.1',
          port,
          path: '/v1/predict',
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode === 200));
        },
      );
      request.on('error', () => resolve(false));
      request.end(body);
    });
  const result = await closedLoop(concurrency, (_, n) => send(restBodies[n % restBodies.length] as string));
  agent.destroy();
  return result;
}

async function wsLoad(port: number, sessions: number): Promise<Result> {
  const sockets = await Promise.all(
    Array.from(
      { length: sessions },
      () =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
          ws.once('message', () => resolve(ws)); // the welcome
          ws.once('error', reject);
        }),
    ),
  );
  // One request in flight per session: the answer to it resolves the session's pending promise.
  const pending: (((ok: boolean) => void) | undefined)[] = [];
  sockets.forEach((ws, s) => {
    ws.on('message', (data: Buffer) => {
      const resolve = pending[s];
      pending[s] = undefined;
      resolve?.(data.subarray(0, 30).toString().startsWith('{"type":"prediction"'));
    });
    ws.on('close', () => pending[s]?.(false));
  });
  const result = await closedLoop(
    sessions,
    (s, n) =>
      new Promise<boolean>((resolve) => {
        pending[s] = resolve;
        (sockets[s] as WebSocket).send(wsMessage(n));
      }),
  );
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise((resolve) => {
          ws.once('close', resolve);
          ws.close();
        }),
    ),
  );
  return result;
}

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(2));
const cell = (r: Result) =>
  `${fmt(r.predictionsPerSecond).padStart(7)}/s p50 ${fmt(r.p50).padStart(6)} p99 ${fmt(r.p99).padStart(7)} ms${r.errors ? ` (${r.errors} errors)` : ''}`;

const { child, port } = await startRuntime(values.model, [
  // The bench measures throughput, not the per-session rate limit or the session cap.
  '--max-connections',
  String(Math.max(...levels) + 10),
  '--ws-messages-per-second',
  '100000',
  '--ws-message-burst',
  '100000',
]);
console.log(`bench:ws  ${seconds} s per point, model ${values.model}, server pid ${child.pid}`);
console.log(
  `${'sessions'.padEnd(9)} ${'ws /ws predict'.padEnd(40)} ${'rest /v1/predict'.padEnd(40)} ws/rest: throughput  p50   p99`,
);
try {
  for (const n of levels) {
    const rest = await restLoad(port, n);
    const ws = await wsLoad(port, n);
    console.log(
      `${String(n).padEnd(9)} ${cell(ws).padEnd(40)} ${cell(rest).padEnd(40)}          ${(ws.predictionsPerSecond / rest.predictionsPerSecond).toFixed(2).padStart(5)}x ${(ws.p50 / rest.p50).toFixed(2).padStart(5)} ${(ws.p99 / rest.p99).toFixed(2).padStart(5)}`,
    );
  }
} finally {
  await stopChild(child);
}
