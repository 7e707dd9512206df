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
 * First, for each builtin model (the one number a user can compare): served images per CPU-second
 * for one JSON digit per request against the combined floor 1 / (1/transport + 1/raw batch-64),
 * and for 64 binary digits per request against raw onnxruntime at batch 64 (both at c=64, the
 * runtime's default settings). Then the detailed points below for --model.
 *
 * The load generator runs in this process (raw keep-alive sockets, one request per connection at a
 * time), on the same 2 cores as the server: like wrk on the same machine, it costs the server CPU.
 * Options: --seconds N (per point, default 3), --images 1,64 (images per request: a drawing
 * client sends 1, the job runner 64), --sweep w2i1d0,... (workers, intra-op threads, max delay ms
 * to compare at c=64 with binary requests; --sweep-json for JSON ones), --no-sweep,
 * --headline-only (the per-model lines and nothing else).
 */
// First: onnxruntime telemetry off before onnxruntime-node loads.
import './support/no-telemetry.ts';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { builtinModels } from '../src/api/modeldeployment.ts';
import { loadMnistTest } from '../src/datasets/idx.ts';
import { builtinModelPath, bundledModelPath } from '../src/runtime/config.ts';
import { startChild, startRuntime, stopChild } from './support/child.ts';
import { type Body, closedLoop, cpuSeconds, type LoadResult, v2Bodies } from './support/load.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    images: { type: 'string', default: '1,64' },
    model: { type: 'string', default: bundledModelPath },
    'no-sweep': { type: 'boolean', default: false },
    sweep: { type: 'string', default: 'w1i1d2,w1i2d2,w2i1d2,w2i2d2,w1i1d0,w2i1d0' },
    'sweep-json': { type: 'boolean', default: false },
    'headline-only': { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const requestSizes = values.images.split(',').map(Number);
const sweep = values.sweep.split(',');
const modelPath = values.model;

// Real digits as request bodies (mostly zeros, like every MNIST request), 64 different bodies.
const digits = await loadMnistTest();
const pixel = (i: number) => digits.images[i % (digits.count * 784)]! / 255;
/** 64 different request bodies of `n` real digits each, as V2 JSON or V2 binary tensor data. */
const makeBodies = (n: number, binary: boolean): Body[] => v2Bodies(pixel, n, binary);
let imagesPerRequest = 1;
let bodies: Body[] = [];

type Result = LoadResult;

/** Images/s of one InferenceSession run back to back on batches of `batch`. */
async function rawCeiling(
  batch: number,
  intraOpNumThreads: number,
  model = modelPath,
): Promise<{ rate: number; perCpu: number }> {
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads, interOpNumThreads: 1 });
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

/** The closed-loop load of bench/support/load.ts with this run's bodies, measuring process `pid`. */
const load = (port: number, path: string, concurrency: number, pid: number): Promise<Result> =>
  closedLoop({ port, path, concurrency, bodies, imagesPerRequest, seconds, cpu: () => cpuSeconds(pid) });

async function served(args: string[], concurrencies: number[], model = modelPath): Promise<Result[]> {
  const { child, port } = await startRuntime(model, [
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

// ---- Headline, per builtin model: served against the floor (issue 15) ----
{
  const transportOf = async () => {
    const bare = await startChild(['-e', bareServer], /"ready":true/);
    const result = await load(bare.port, '/', 64, bare.child.pid!);
    await stopChild(bare.child);
    return result;
  };
  /** Best raw batch-64 images per CPU-second of 1 and 2 intra-op threads (the runtime's workers use 1). */
  const rawPerCpu = async (model: string) =>
    Math.max((await rawCeiling(64, 1, model)).perCpu, (await rawCeiling(64, 2, model)).perCpu);
  imagesPerRequest = 1;
  bodies = makeBodies(1, false);
  const transport = await transportOf();
  const lines: string[] = [];
  for (const name of builtinModels) {
    const model = builtinModelPath(name);
    const rawBefore = await rawPerCpu(model);
    imagesPerRequest = 1;
    bodies = makeBodies(1, false);
    const [json] = await served([], [64], model);
    imagesPerRequest = 64;
    bodies = makeBodies(64, true);
    const [binary] = await served([], [64], model);
    // The better raw figure of before and after, so background load cannot flatter the ratios.
    const raw = Math.max(rawBefore, await rawPerCpu(model));
    const floor = 1 / (1 / transport.imagesPerCpuSecond + 1 / raw);
    lines.push(
      `${name.padEnd(12)} 1 JSON digit/request:    ${fmt(json!.imagesPerCpuSecond).padStart(6)} img/cpu-s = ${(json!.imagesPerCpuSecond / floor).toFixed(2)} of the floor ${fmt(floor)} (transport ${fmt(transport.imagesPerCpuSecond)}, raw batch-64 ${fmt(raw)})`,
      `${''.padEnd(12)} 64 binary digits/request: ${fmt(binary!.imagesPerCpuSecond).padStart(6)} img/cpu-s = ${(binary!.imagesPerCpuSecond / raw).toFixed(2)} of raw onnxruntime batch 64 (${fmt(raw)})`,
    );
  }
  console.log('served images per CPU-second of the server process, c=64, default runtime settings:');
  for (const line of lines) console.log(`  ${line}`);
  console.log(
    '  (floor = 1 / (1/transport + 1/raw): a bare Node HTTP server parsing the same body, plus the model alone)\n',
  );
  if (values['headline-only']) process.exit(0);
}

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
