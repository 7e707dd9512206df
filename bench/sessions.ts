/**
 * `npm run bench:sessions`: why the runtime's inference workers spend more CPU per image than raw
 * onnxruntime (bench:runtime's breakdown), with the controls measured in one run, in interleaved
 * rounds, each as CPU per image against the first (the raw baseline):
 *
 *   main, batch 64        one session on this process's main thread, back to back (bench:runtime's raw)
 *   main, batch 64, 2 intra-op threads (spinning, and not), denormals as zero, and batch 32 (the
 *                         size one-digit requests at c=64 batch to)
 *   1 worker thread       the same loop in one worker thread: is it the thread?
 *   2 worker threads      two sessions in two worker threads at once: what two sessions on the
 *                         2 cores cost each other (caches, memory bandwidth, clock), no server
 *   pool                  the runtime's own WorkerPool (its worker.ts, protocol, transfers), two
 *                         workers, a fresh 64-digit buffer per batch, two batches in flight: what
 *                         the batcher hands it, without HTTP
 *   pool, busy main       the same with this thread busy half the time (a server's event loop)
 *
 *   npx tsx bench/sessions.ts [--model mnist-cnn] [--seconds 3] [--rounds 3]
 */
// First: onnxruntime telemetry off before onnxruntime-node loads.
import './support/no-telemetry.ts';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { type BuiltinModel, builtinModels } from '../src/api/modeldeployment.ts';
import { loadMnistTest } from '../src/datasets/idx.ts';
import { builtinModelPath } from '../src/runtime/config.ts';
import { readModel } from '../src/runtime/inference/model.ts';
import { WorkerPool } from '../src/runtime/inference/pool.ts';
import { sessionOptions } from '../src/runtime/inference/session-options.ts';
import { rawSessions } from './support/raw-sessions.ts';
import { processCpuSeconds, runFor, threadCpuSeconds, warmUp } from './support/session-runs.ts';
import { formatSpread, spread } from './support/spread.ts';
import { cpuBetween, threadCpu } from './support/thread-cpu.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'mnist-cnn' },
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
  },
});
const name = values.model as BuiltinModel;
if (!builtinModels.includes(name)) throw new Error(`--model: expected one of ${builtinModels.join(', ')}`);
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
if (!(seconds > 0)) throw new Error('--seconds: expected a positive number');
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds: expected a positive integer');
const model = builtinModelPath(name);

const test = await loadMnistTest();
/** 16 different batches of `size` real digits. */
const batchesOf = (size: number) =>
  Array.from({ length: 16 }, (_, b) => {
    const data = new Float32Array(size * 784);
    for (let k = 0; k < data.length; k++)
      data[k] = test.images[(b * size * 784 + k) % test.images.length]! / 255;
    return data;
  });
const batches64 = batchesOf(64);
const batches32 = batchesOf(32);

/**
 * Images per CPU-second of one session on this thread (with intra-op threads, the process's CPU):
 * the runtime's session options, `extra` session config entries added.
 */
async function onMain(
  batch: number,
  intraOpNumThreads: number,
  extra?: Record<string, unknown>,
): Promise<number> {
  const session = await ort.InferenceSession.create(model, {
    ...sessionOptions(intraOpNumThreads),
    ...(extra ? { extra } : {}),
  });
  const feeds = (batch === 64 ? batches64 : batches32).map((data) => ({
    input: new ort.Tensor('float32', data, [batch, 1, 28, 28]),
  }));
  await warmUp(session, feeds);
  const run = await runFor(
    session,
    feeds,
    seconds,
    intraOpNumThreads === 1 ? threadCpuSeconds : processCpuSeconds,
  );
  await session.release();
  return (run.runs * batch) / run.cpuSeconds;
}

const file = await readModel(model);
const pool = await WorkerPool.start(2, {
  model: file.bytes,
  intraOpNumThreads: 1,
  warmupBatchSizes: [1, 64],
});

/** The pool fed like the batcher feeds it: a fresh buffer per batch, one batch per worker in flight. */
async function throughPool(busyMain: boolean): Promise<number> {
  let images = 0;
  let stop = false;
  const feed = async (lane: number) => {
    for (let n = lane; !stop; n += 2) {
      await pool.run(batches64[n % batches64.length]!.slice(), 64);
      images += 64;
    }
  };
  const busy = async () => {
    // Half of this thread: ~1 ms of allocation-heavy JSON work, then ~1 ms idle.
    const text = JSON.stringify({ inputs: [{ data: Array.from(batches32[0]!.subarray(0, 784)) }] });
    while (!stop) {
      const until = performance.now() + 1;
      while (performance.now() < until) JSON.parse(text);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  };
  const lanes = [feed(0), feed(1), busyMain ? busy() : Promise.resolve()];
  await new Promise((resolve) => setTimeout(resolve, 500)); // warm-up
  const before = threadCpu(process.pid);
  const counted = images;
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const after = threadCpu(process.pid);
  const done = images - counted;
  stop = true;
  await Promise.all(lanes);
  return (done * 1000) / (cpuBetween(before, after).get('workers') ?? Number.NaN);
}

const variants: [string, () => Promise<number>][] = [
  ['main thread, batch 64 (raw baseline)', () => onMain(64, 1)],
  ['main thread, batch 64, 2 intra-op threads', () => onMain(64, 2)],
  [
    'main thread, batch 64, 2 intra-op, no spinning',
    () => onMain(64, 2, { session: { intra_op: { allow_spinning: '0' } } }),
  ],
  [
    'main thread, batch 64, denormals as zero',
    () => onMain(64, 1, { session: { set_denormal_as_zero: '1' } }),
  ],
  ['main thread, batch 32', () => onMain(32, 1)],
  ['1 worker thread, batch 64', async () => (await rawSessions(model, 1, 64, seconds, batches64)).perCpu],
  [
    '2 worker threads at once, batch 64',
    async () => (await rawSessions(model, 2, 64, seconds, batches64)).perCpu,
  ],
  ['WorkerPool, 2 workers, fresh buffers', () => throughPool(false)],
  ['WorkerPool, 2 workers, main thread half busy', () => throughPool(true)],
];
const measured: number[][] = variants.map(() => []);
console.log(
  `${name}: ${rounds} interleaved rounds of ${seconds}s per variant (images per CPU-second of onnxruntime's threads)`,
);
for (let round = 1; round <= rounds; round++) {
  // Each round starts one variant later, so none is always first (or always after the pool).
  for (let k = 0; k < variants.length; k++) {
    const i = (k + round - 1) % variants.length;
    measured[i]!.push(await variants[i]![1]());
  }
  console.log(`  round ${round}: ${measured.map((m) => Math.round(m.at(-1)!)).join(', ')}`);
}
await pool.close();
console.log('\nCPU per image against the raw baseline (median and range over the rounds; 1.00 = as cheap):');
for (const [i, [label]] of variants.entries()) {
  const ratios = measured[i]!.map((perCpu, r) => measured[0]![r]! / perCpu);
  const perCpu = spread(measured[i]!).median;
  console.log(
    `  ${label.padEnd(46)} ${formatSpread(spread(ratios), (n) => n.toFixed(2))}x   (${Math.round(perCpu)} img/cpu-s, ${(1e6 / perCpu).toFixed(0)} us/image)`,
  );
}
