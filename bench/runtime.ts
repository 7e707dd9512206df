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
 * runtime's default settings), with where the runtime's CPU went (inference workers per image
 * against raw onnxruntime, event loop and V8 helper threads per request). A second raw figure,
 * two sessions in two worker threads at once (the runtime's two workers, with no server), shows
 * what any two sessions on the machine's cores cost each other, and the same at batch 32 makes a
 * second floor for one JSON digit: the model as the runtime runs it for 64 one-digit clients (two
 * workers share them). The issue's ratios stay against the one session alone. Then the detailed
 * points below for --model.
 *
 * The load generator runs in this process (raw keep-alive sockets, one request per connection at a
 * time), on the same 2 cores as the server: like wrk on the same machine, it costs the server CPU.
 * Options: --seconds N (per point, default 3), --images 1,64 (images per request: a drawing
 * client sends 1, the job runner 64), --sweep w2i1d0,... (workers, intra-op threads, max delay ms
 * to compare at c=64 with binary requests; --sweep-json for JSON ones), --no-sweep,
 * --headline-only (the per-model lines and nothing else), --rounds N (interleaved rounds of the
 * headline, default 5: its ratios are printed as the median and the range over the rounds),
 * --models mnist-cnn,... (the headline's models, default every builtin one), --baseline-kinfer
 * PATH (another checkout's dist/cli/main.js, measured in the same rounds, the two builds taking
 * turns going first, with this build / baseline per round: an A/B on a shared machine).
 */
// First: onnxruntime telemetry off before onnxruntime-node loads.
import './support/no-telemetry.ts';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { type BuiltinModel, builtinModels } from '../src/api/modeldeployment.ts';
import { loadMnistTest } from '../src/datasets/idx.ts';
import { builtinModelPath, bundledModelPath } from '../src/runtime/config.ts';
import { sessionOptions } from '../src/runtime/inference/session-options.ts';
import { startChild, startRuntime, stopChild } from './support/child.ts';
import {
  type Body,
  closedLoop,
  cpuSeconds,
  type LoadResult,
  treeCpuSeconds,
  v2Bodies,
} from './support/load.ts';
import { rawSessions } from './support/raw-sessions.ts';
import { runFor, warmUp } from './support/session-runs.ts';
import { formatSpread, spread } from './support/spread.ts';
import { cpuBetween, machineCpu, type ThreadCpu, threadCpu } from './support/thread-cpu.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    images: { type: 'string', default: '1,64' },
    model: { type: 'string', default: bundledModelPath },
    'no-sweep': { type: 'boolean', default: false },
    sweep: { type: 'string', default: 'w1i1d2,w1i2d2,w2i1d2,w2i2d2,w1i1d0,w2i1d0' },
    'sweep-json': { type: 'boolean', default: false },
    'headline-only': { type: 'boolean', default: false },
    rounds: { type: 'string', default: '5' },
    models: { type: 'string', default: builtinModels.join(',') },
    'baseline-kinfer': { type: 'string' },
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

/** The one batch raw onnxruntime runs: the first `batch` digits. */
const rawInput = (batch: number) => new Float32Array(batch * 784).map((_, i) => pixel(i));

/** Images/s of one InferenceSession (the runtime's options) run back to back on batches of `batch`. */
async function rawCeiling(
  batch: number,
  intraOpNumThreads: number,
  model = modelPath,
): Promise<{ rate: number; perCpu: number }> {
  const session = await ort.InferenceSession.create(model, sessionOptions(intraOpNumThreads));
  const feeds = [{ input: new ort.Tensor('float32', rawInput(batch), [batch, 1, 28, 28]) }];
  await warmUp(session, feeds);
  const run = await runFor(session, feeds, seconds, () => cpuSeconds(process.pid));
  await session.release();
  const images = run.runs * batch;
  return { rate: images / run.wallSeconds, perCpu: images / run.cpuSeconds };
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

/** Images per CPU-second of a server whose only costs were the transport's and the model's. */
const combinedFloor = (transport: number, raw: number) => 1 / (1 / transport + 1 / raw);

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
  // One bare server and one runtime per model, each started once and warmed up, then measured in
  // interleaved rounds: every round measures the transport, raw onnxruntime and the runtime one
  // after the other, and its ratios use that round's own floor and raw figures. A fresh Node
  // process spends its first seconds compiling and sizing its heap on V8's helper threads (~10% of
  // the bare server's CPU in its first 3 s, ~2% later), and other engineers' load moves every
  // per-CPU-second figure by up to a third: the spread over rounds shows how far to trust a ratio.
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds: expected a positive integer');
  const jsonDigit = makeBodies(1, false);
  const binary64 = makeBodies(64, true);
  const inferPath = '/v2/models/mnist-cnn/infer';
  const point = (port: number, path: string, pid: number, body: Body[], images: number, warmupMs = 500) =>
    closedLoop({
      port,
      path,
      concurrency: 64,
      bodies: body,
      imagesPerRequest: images,
      seconds,
      warmupMs,
      cpu: () => cpuSeconds(pid),
    });
  const headlineModels = values.models.split(',') as BuiltinModel[];
  for (const name of headlineModels)
    if (!builtinModels.includes(name))
      throw new Error(`--models: "${name}" is not one of ${builtinModels.join(', ')}`);
  // --baseline-kinfer: another checkout's build measured in the same rounds, for an A/B.
  const baseline = values['baseline-kinfer'];
  const builds = baseline === undefined ? ['this build'] : ['this build', 'baseline'];
  const bare = await startChild(['-e', bareServer], /"ready":true/);
  const runtimes = await Promise.all(
    headlineModels.map(async (name) => ({
      name,
      model: builtinModelPath(name),
      builds: await Promise.all(
        builds.map((_, b) =>
          startRuntime(builtinModelPath(name), ['--max-v2-batch', '1024'], b === 0 ? undefined : baseline),
        ),
      ),
    })),
  );
  // Warm-up (not measured): past the fresh processes' compilation and heap growth.
  const warmupMs = 3000;
  await point(bare.port, '/', bare.child.pid!, jsonDigit, 1, warmupMs);
  for (const { builds: started } of runtimes) {
    for (const r of started) {
      await point(r.port, inferPath, r.child.pid!, jsonDigit, 1, warmupMs);
      await point(r.port, inferPath, r.child.pid!, binary64, 64, warmupMs);
    }
  }
  /**
   * A runtime point, with where its CPU went: microseconds per image on each kind of thread
   * (thread-cpu.ts), read around the same measured window as the process's CPU.
   */
  const runtimePoint = async (port: number, pid: number, body: Body[], images: number) => {
    const cpu: number[] = [];
    const threads: ThreadCpu[] = [];
    const result = await closedLoop({
      port,
      path: inferPath,
      concurrency: 64,
      bodies: body,
      imagesPerRequest: images,
      seconds,
      cpu: () => {
        threads.push(threadCpu(pid));
        cpu.push(cpuSeconds(pid));
        return cpu.at(-1)!;
      },
    });
    const served = result.imagesPerCpuSecond * (cpu[1]! - cpu[0]!);
    const split = cpuBetween(threads[0]!, threads[1]!);
    const perImageUs = (role: string) => ((split.get(role) ?? 0) * 1000) / served;
    return {
      perCpu: result.imagesPerCpuSecond,
      workersUs: perImageUs('workers'),
      loopUs: perImageUs('main') * images,
      helpersUs: perImageUs('V8 helpers') * images,
    };
  };
  /** Best raw batch-64 images per CPU-second of 1 and 2 intra-op threads (the runtime's workers use 1). */
  const rawPerCpu = async (model: string) =>
    Math.max((await rawCeiling(64, 1, model)).perCpu, (await rawCeiling(64, 2, model)).perCpu);
  type Served = Awaited<ReturnType<typeof runtimePoint>>;
  interface Build {
    json: number;
    binary: number;
    split: Served[];
  }
  interface Round {
    transport: number;
    others: number;
    models: { raw: number; raw2: number; raw2at32: number; floor: number; builds: Build[] }[];
  }
  const measured: Round[] = [];
  console.log(
    `${rounds} interleaved rounds of ${seconds}s per point, servers warmed up ${warmupMs / 1000}s (--rounds, --seconds):`,
  );
  for (let round = 1; round <= rounds; round++) {
    const machineBefore = machineCpu();
    const ownBefore = treeCpuSeconds(process.pid);
    const started = performance.now();
    const transport = (await point(bare.port, '/', bare.child.pid!, jsonDigit, 1)).imagesPerCpuSecond;
    const models: Round['models'] = [];
    for (const r of runtimes) {
      const raw = await rawPerCpu(r.model);
      const raw2 = (await rawSessions(r.model, 2, 64, seconds, [rawInput(64)])).perCpu;
      // The model as the runtime runs it for 64 one-digit clients: two sessions at once, batches of
      // at most 32 (64 clients shared by two workers).
      const raw2at32 = (await rawSessions(r.model, 2, 32, seconds, [rawInput(32)])).perCpu;
      const measuredBuilds: Build[] = [];
      // With a baseline, the two builds take turns going first.
      const order = r.builds.map((_, b) => b);
      if (round % 2 === 0) order.reverse();
      for (const b of order) {
        const { port, child } = r.builds[b]!;
        const json = await runtimePoint(port, child.pid!, jsonDigit, 1);
        const binary = await runtimePoint(port, child.pid!, binary64, 64);
        measuredBuilds[b] = { json: json.perCpu, binary: binary.perCpu, split: [json, binary] };
      }
      models.push({ raw, raw2, raw2at32, floor: combinedFloor(transport, raw), builds: measuredBuilds });
    }
    const elapsed = (performance.now() - started) / 1000;
    const machine = machineCpu();
    // Cores busy with anything but this benchmark and its servers (USER_HZ ticks are 1/100 s).
    const others =
      ((machine.busy - machineBefore.busy) / 100 - (treeCpuSeconds(process.pid) - ownBefore)) / elapsed;
    measured.push({ transport, others, models });
    const perModel = runtimes.flatMap((r, i) =>
      models[i]!.builds.map(
        (x, b) =>
          `${r.name}${b === 0 ? '' : ` (${builds[b]})`} ${(x.json / models[i]!.floor).toFixed(2)} / ${(x.binary / models[i]!.raw).toFixed(2)}`,
      ),
    );
    console.log(
      `  round ${round}: transport ${fmt(transport)}, ${perModel.join(', ')}; other load ${others.toFixed(2)} cores`,
    );
  }
  await stopChild(bare.child);
  for (const r of runtimes) for (const { child } of r.builds) await stopChild(child);
  const us = (pick: (round: Round) => number) =>
    formatSpread(spread(measured.map(pick)), (n) => n.toFixed(0));
  const of = (pick: (round: Round) => number, digits = 2) =>
    formatSpread(spread(measured.map(pick)), (n) => (digits === 0 ? fmt(n) : n.toFixed(digits)));
  console.log(
    '\nserved images per CPU-second of the server process, c=64, default runtime settings; median (min-max) over the rounds:',
  );
  for (const [i, r] of runtimes.entries()) {
    const m = (round: Round) => round.models[i]!;
    for (const [b, build] of builds.entries()) {
      const mine = (round: Round) => m(round).builds[b]!;
      const name = b === 0 ? r.name : `  ${build}`;
      console.log(
        `  ${name.padEnd(12)} 1 JSON digit/request:    ${of((x) => mine(x).json / m(x).floor)} of the floor (served ${of((x) => mine(x).json, 0)}, floor ${of((x) => m(x).floor, 0)}, raw batch-64 ${of((x) => m(x).raw, 0)})`,
      );
      console.log(
        `  ${''.padEnd(12)}   second figure: ${of((x) => mine(x).json / combinedFloor(x.transport, m(x).raw2at32))} of a floor built on two raw sessions at once at batch 32 (${of((x) => m(x).raw2at32, 0)}), the model as the runtime runs it for 64 one-digit clients`,
      );
      console.log(
        `  ${''.padEnd(12)} 64 binary digits/request: ${of((x) => mine(x).binary / m(x).raw)} of raw onnxruntime batch 64 (served ${of((x) => mine(x).binary, 0)}); ${of((x) => mine(x).binary / m(x).raw2)} of two raw sessions at once (${of((x) => m(x).raw2, 0)})`,
      );
      for (const [k, kind] of ['1 JSON digit', '64 binary digits'].entries()) {
        const split = (x: Round) => mine(x).split[k]!;
        console.log(
          `  ${''.padEnd(12)}   where the CPU of ${kind} went: inference workers ${of((x) => (split(x).workersUs * m(x).raw) / 1e6)} x raw onnxruntime's per image (${of((x) => (split(x).workersUs * m(x).raw2) / 1e6)} x two sessions at once); per request ${us((x) => split(x).loopUs)} us on the event loop, ${us((x) => split(x).helpersUs)} us on V8's helper threads (GC)`,
        );
      }
    }
    if (builds.length > 1) {
      const ab = (pick: (x: Build) => number) => of((x) => pick(m(x).builds[0]!) / pick(m(x).builds[1]!));
      console.log(
        `  ${''.padEnd(12)} this build / baseline, per CPU-second (each round's own pair): 1 JSON digit ${ab((x) => x.json)}, 64 binary digits ${ab((x) => x.binary)}`,
      );
    }
  }
  console.log(
    `  (floor = 1 / (1/transport + 1/raw): a bare Node HTTP server parsing the same body, ${of((x) => x.transport, 0)} requests per CPU-second, plus the model alone; each round's ratios use that round's floor and raw figures. Other load on the machine meanwhile: ${of((x) => x.others)} cores)\n`,
  );
  // Other processes' CPU moves every per-CPU-second figure (the bare server's by up to a third),
  // and not by the same factor for the runtime (main thread and workers want both cores) as for
  // the one-threaded bare server.
  if (spread(measured.map((x) => x.others)).median > 0.25) {
    console.log(
      '  The machine was busy with other work: these ratios are not a claim; run again when it is quiet.\n',
    );
  }
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
