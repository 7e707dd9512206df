/**
 * `npm run bench:runtime`: what the predictor runtime serves, against the two ceilings that bound
 * it, all measured in this run on this machine (design.md, performance notes):
 *
 *   raw ceiling        onnxruntime alone in one process, batched (no HTTP, no JSON)
 *   transport ceiling  a bare Node HTTP server parsing the same V2 body and answering a fixed reply
 *   served             `kinfer runtime` (a child process) through REST V2 at concurrency 1/16/64,
 *                      dynamic batching on and off (--max-batch-size 1), JSON and binary tensor
 *                      data; plus workers x intraOpNumThreads at c=64
 *
 * The load generator runs in this process (raw keep-alive sockets, one request per connection at a
 * time), on the same 2 cores as the server: like wrk on the same machine, it costs the server CPU.
 * Options: --seconds N (per point, default 3), --images 1,64 (images per request: a drawing
 * client sends 1, the job runner 64), --sweep w2i1d0,... (workers, intra-op threads, max delay ms
 * to compare at c=64 with binary requests; --sweep-json for JSON ones), --no-sweep.
 */
// First: onnxruntime telemetry off before onnxruntime-node loads.
import './support/no-telemetry.ts';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { loadMnistTest } from '../src/datasets/idx.ts';
import { bundledModelPath } from '../src/runtime/config.ts';
import { startChild, startRuntime, stopChild } from './support/child.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    images: { type: 'string', default: '1,64' },
    model: { type: 'string', default: bundledModelPath },
    'no-sweep': { type: 'boolean', default: false },
    sweep: { type: 'string', default: 'w1i1d2,w1i2d2,w2i1d2,w2i2d2,w1i1d0,w2i1d0' },
    'sweep-json': { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const requestSizes = values.images.split(',').map(Number);
const sweep = values.sweep.split(',');
const modelPath = values.model;

// Real digits as request bodies (mostly zeros, like every MNIST request), 64 different bodies.
const digits = await loadMnistTest();
const pixel = (i: number) => digits.images[i % (digits.count * 784)]! / 255;
interface Body {
  data: Buffer;
  headers: Record<string, string>;
}
/** 64 different request bodies of `n` real digits each, as V2 JSON or V2 binary tensor data. */
const makeBodies = (n: number, binary: boolean): Body[] =>
  Array.from({ length: 64 }, (_, b): Body => {
    const values = Array.from({ length: n * 784 }, (_, k) => pixel(b * n * 784 + k));
    const shape = [n, 1, 28, 28];
    if (!binary) {
      const data = Buffer.from(
        JSON.stringify({ inputs: [{ name: 'input', shape, datatype: 'FP32', data: values }] }),
      );
      return { data, headers: { 'content-type': 'application/json', 'content-length': String(data.length) } };
    }
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'input', shape, datatype: 'FP32', parameters: { binary_data_size: n * 784 * 4 } }],
        parameters: { binary_data_output: true },
      }),
    );
    const tensor = Float32Array.from(values);
    const data = Buffer.concat([header, Buffer.from(tensor.buffer)]);
    return {
      data,
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(data.length),
        'inference-header-content-length': String(header.length),
      },
    };
  });
let imagesPerRequest = 1;
let bodies: Body[] = [];

interface Result {
  imagesPerSecond: number;
  /** Images per CPU-second the server process used (all its threads): robust to other load. */
  imagesPerCpuSecond: number;
  p50: number;
  p99: number;
  errors: number;
}

/** Images/s of one InferenceSession run back to back on batches of `batch`. */
/** CPU seconds (user + system, every thread) a process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ ticks
}

async function rawCeiling(
  batch: number,
  intraOpNumThreads: number,
): Promise<{ rate: number; perCpu: number }> {
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads, interOpNumThreads: 1 });
  const input = new Float32Array(batch * 784).map((_, i) => pixel(i));
  const feeds = { input: new ort.Tensor('float32', input, [batch, 1, 28, 28]) };
  for (let i = 0; i < 20; i++) await session.run(feeds);
  let images = 0;
  const start = performance.now();
  const cpuStart = cpuSeconds(process.pid);
  while (performance.now() - start < seconds * 1000) {
    await session.run(feeds);
    images += batch;
  }
  const rate = images / ((performance.now() - start) / 1000);
  const perCpu = images / (cpuSeconds(process.pid) - cpuStart);
  await session.release();
  return { rate, perCpu };
}

/**
 * Closed-loop load, wrk-style: `concurrency` keep-alive sockets, each writing a pre-serialised
 * request and the next one as soon as the answer's last byte arrives. Raw sockets instead of
 * http.Agent keep the generator's own CPU small (it shares the 2 cores with the server).
 */
async function load(port: number, path: string, concurrency: number, pid: number): Promise<Result> {
  const requests = bodies.map((body) =>
    Buffer.concat([
      Buffer.from(
        `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n${Object.entries(body.headers)
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join('')}\r\n`,
      ),
      body.data,
    ]),
  );
  let recording = false;
  let stopAt = 0;
  const latencies: number[] = [];
  let errors = 0;
  const connection = (first: number) =>
    new Promise<void>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.setNoDelay(true);
      let n = first;
      let sentAt = 0;
      let buffer: Buffer = Buffer.alloc(0);
      const send = () => {
        if (performance.now() >= stopAt) {
          socket.end();
          return resolve();
        }
        sentAt = performance.now();
        socket.write(requests[n++ % requests.length]!);
      };
      socket.on('connect', send);
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
        for (;;) {
          const headerEnd = buffer.indexOf('\r\n\r\n');
          if (headerEnd < 0) return;
          const head = buffer.subarray(0, headerEnd).toString('latin1');
          if (/\r\ntransfer-encoding: *chunked/i.test(head))
            throw new Error('chunked answers are not measured');
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          if (buffer.length < headerEnd + 4 + length) return;
          buffer = buffer.subarray(headerEnd + 4 + length);
          if (recording) {
            latencies.push(performance.now() - sentAt);
            if (!head.startsWith('HTTP/1.1 200')) errors++;
          }
          send();
        }
      });
    });
  const run = async (ms: number) => {
    stopAt = performance.now() + ms;
    await Promise.all(Array.from({ length: concurrency }, (_, c) => connection(c)));
  };
  await run(500); // warm-up: connections, JIT, worker caches
  recording = true;
  const start = performance.now();
  const cpuStart = cpuSeconds(pid);
  await run(seconds * 1000);
  const elapsed = (performance.now() - start) / 1000;
  const cpu = cpuSeconds(pid) - cpuStart;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? Number.NaN;
  return {
    imagesPerSecond: ((latencies.length - errors) * imagesPerRequest) / elapsed,
    imagesPerCpuSecond: ((latencies.length - errors) * imagesPerRequest) / cpu,
    p50: at(0.5),
    p99: at(0.99),
    errors,
  };
}

async function served(args: string[], concurrencies: number[]): Promise<Result[]> {
  const { child, port } = await startRuntime(modelPath, [
    '--max-v2-batch',
    String(Math.max(1024, imagesPerRequest)),
    ...args,
  ]);
  const results: Result[] = [];
  for (const c of concurrencies) results.push(await load(port, '/v2/models/mnist-cnn/infer', c, child.pid!));
  await stopChild(child);
  return results;
}

/** A bare HTTP server that parses the JSON body and answers a fixed V2-shaped reply. */
const bareServer = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString());
    if (!Array.isArray(body.inputs)) { res.writeHead(400, { 'content-length': 0 }); return res.end(); }
    const n = body.inputs[0].shape[0];
    const reply = JSON.stringify({ model_name: 'mnist-cnn', outputs: [{ name: 'probabilities', shape: [n, 10], datatype: 'FP32', data: new Array(n * 10).fill(0.1) }] });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(reply) });
    res.end(reply);
  });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ address: 'http://127.0.0.1:' + server.address().port, ready: true })));
`;

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(2));
const row = (name: string, r: Result) =>
  console.log(
    `${name.padEnd(48)} ${fmt(r.imagesPerSecond).padStart(7)} img/s ${fmt(r.imagesPerCpuSecond).padStart(7)} img/cpu-s   p50 ${fmt(r.p50).padStart(6)} ms   p99 ${fmt(r.p99).padStart(6)} ms${r.errors ? `   ${r.errors} errors` : ''}`,
  );

console.log(
  `kinfer runtime benchmark: ${availableParallelism()} cores, ${seconds}s per point, model ${modelPath}\n`,
);

const raw1intra1 = await rawCeiling(1, 1);
const raw1 = await rawCeiling(1, 2);
const raw64intra1 = await rawCeiling(64, 1);
const raw64 = await rawCeiling(64, 2);
// The ceiling is the best batch-64 figure, per second and per CPU-second separately (measured
// again at the end, and the better taken, so background load cannot flatter the ratios).
const ceiling = {
  rate: Math.max(raw64.rate, raw64intra1.rate),
  perCpu: Math.max(raw64.perCpu, raw64intra1.perCpu),
};
const rawRow = (name: string, r: { rate: number; perCpu: number }) =>
  console.log(`  ${name.padEnd(46)} ${fmt(r.rate).padStart(7)} img/s ${fmt(r.perCpu).padStart(7)} img/cpu-s`);
console.log('raw ceiling (onnxruntime alone, one process)');
rawRow('batch 1,  1 intra-op thread', raw1intra1);
rawRow('batch 1,  2 intra-op threads', raw1);
rawRow('batch 64, 1 intra-op thread', raw64intra1);
rawRow('batch 64, 2 intra-op threads', raw64);

const concurrencies = [1, 16, 64];
/** Ratio lines, written once the raw ceiling has been measured again at the end. */
const ratios: (() => string[])[] = [];
for (const size of requestSizes) {
  imagesPerRequest = size;
  bodies = makeBodies(size, false);
  console.log(`\n== ${size} image(s) per request ==`);
  const bare = await startChild(['-e', bareServer], /"ready":true/);
  const transport = await load(bare.port, '/', 64, bare.child.pid!);
  await stopChild(bare.child);
  row('transport ceiling (bare HTTP + JSON), c=64', transport);

  const on = await served([], concurrencies);
  const off = await served(['--max-batch-size', '1'], concurrencies);
  for (const [i, c] of concurrencies.entries()) row(`JSON,   batching on,  c=${c}`, on[i]!);
  for (const [i, c] of concurrencies.entries()) row(`JSON,   batching off, c=${c}`, off[i]!);

  bodies = makeBodies(size, true);
  const [binOn] = await served([], [64]);
  const [binOff] = await served(['--max-batch-size', '1'], [64]);
  row('binary, batching on,  c=64', binOn!);
  row('binary, batching off, c=64', binOff!);

  if (!values['no-sweep']) {
    bodies = makeBodies(size, !values['sweep-json']);
    for (const config of sweep) {
      const [, workers, intra, delay] = /^w(\d+)i(\d+)d(\d+)$/.exec(config) ?? [];
      if (!workers) throw new Error(`--sweep: "${config}" is not like w2i1d0`);
      const args = [
        '--workers',
        String(workers),
        '--intra-op-num-threads',
        String(intra),
        '--max-delay-ms',
        String(delay),
      ];
      const [r] = await served(args, [64]);
      row(
        `${values['sweep-json'] ? 'JSON,  ' : 'binary,'} workers=${workers} intra-op=${intra} delay=${delay}ms, c=64`,
        r!,
      );
    }
  }
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  const both = (a: Result, b: Result | { rate: number; perCpu: number }) =>
    'rate' in b
      ? `${ratio(a.imagesPerSecond, b.rate)} (per cpu-s ${ratio(a.imagesPerCpuSecond, b.perCpu)})`
      : `${ratio(a.imagesPerSecond, b.imagesPerSecond)} (per cpu-s ${ratio(a.imagesPerCpuSecond, b.imagesPerCpuSecond)})`;
  ratios.push(() => [
    `${size} image(s)/request, c=64:`,
    `  served / raw ceiling (goal >= 0.60):   JSON ${both(on[2]!, ceiling)}, binary ${both(binOn!, ceiling)}`,
    `  batching on / off (goal >= 3):         JSON ${both(on[2]!, off[2]!)}, binary ${both(binOn!, binOff!)}`,
    `    (the most batching can give: raw batch 64 / batch 1, one intra-op thread: ${ratio(raw64intra1.rate, raw1intra1.rate)}, per cpu-s ${ratio(raw64intra1.perCpu, raw1intra1.perCpu)})`,
    `  JSON served / transport ceiling:       ${both(on[2]!, transport)}`,
  ]);
}
const again = [await rawCeiling(64, 1), await rawCeiling(64, 2)];
for (const r of again) {
  ceiling.rate = Math.max(ceiling.rate, r.rate);
  ceiling.perCpu = Math.max(ceiling.perCpu, r.perCpu);
}
console.log(
  `\nraw ceiling, best batch-64 figure of start and end: ${fmt(ceiling.rate)} img/s, ${fmt(ceiling.perCpu)} img/cpu-s`,
);
console.log(
  'ratios (per cpu-s = images per CPU-second the process used, robust to other load on the machine)',
);
for (const lines of ratios) for (const line of lines()) console.log(`  ${line}`);
