/**
 * Raw model speed in onnxruntime-node, one process, no server: latency of one image and of a
 * batch of 64, and batch-64 per-image throughput as a ratio against batch 1 measured in the
 * same run (absolute numbers depend on the machine and its load; the ratio much less so).
 *
 *   npx tsx bench/model.ts [--threads 2] [--seconds 3]
 */
// First: onnxruntime telemetry off before onnxruntime-node loads.
import './support/no-telemetry.ts';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { loadMnistTest } from '../src/datasets/idx.ts';

const { values } = parseArgs({
  options: { threads: { type: 'string', default: '2' }, seconds: { type: 'string', default: '3' } },
});
const threads = Number(values.threads);
const seconds = Number(values.seconds);
if (!Number.isInteger(threads) || threads < 1) throw new Error('--threads: expected a positive integer');
if (!(seconds > 0)) throw new Error('--seconds: expected a positive number');

const modelPath = new URL('../models/mnist-cnn/model.onnx', import.meta.url).pathname;
const session = await ort.InferenceSession.create(modelPath, {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
});
const test = await loadMnistTest();

function batchOf(size: number, offset: number): ort.Tensor {
  const pixels = new Float32Array(size * 784);
  for (let k = 0; k < pixels.length; k++)
    pixels[k] = test.images[(offset * 784 + k) % test.images.length]! / 255;
  return new ort.Tensor('float32', pixels, [size, 1, 28, 28]);
}

interface Result {
  batch: number;
  runs: number;
  msPerRun: { mean: number; p50: number; p99: number };
  imagesPerSecond: number;
  /** Images per second of this process's CPU time: less sensitive to other load on the machine. */
  imagesPerCpuSecond: number;
}

async function measure(batch: number): Promise<Result> {
  const inputs = Array.from({ length: 16 }, (_, i) => batchOf(batch, i * batch));
  for (let i = 0; i < 20; i++) await session.run({ input: inputs[i % inputs.length]! }); // warm-up
  const times: number[] = [];
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const deadline = start + seconds * 1000;
  while (performance.now() < deadline) {
    const t0 = performance.now();
    await session.run({ input: inputs[times.length % inputs.length]! });
    times.push(performance.now() - t0);
  }
  const elapsed = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
  return {
    batch,
    runs: times.length,
    msPerRun: {
      mean: times.reduce((a, b) => a + b, 0) / times.length,
      p50: at(0.5),
      p99: at(0.99),
    },
    imagesPerSecond: (times.length * batch) / elapsed,
    imagesPerCpuSecond: (times.length * batch) / cpuSeconds,
  };
}

// Interleave the two a few times so a burst of load from elsewhere hits both alike.
const rounds = 3;
const one: Result[] = [];
const sixtyFour: Result[] = [];
for (let r = 0; r < rounds; r++) {
  one.push(await measure(1));
  sixtyFour.push(await measure(64));
}
const best = (results: Result[]) => results.reduce((a, b) => (b.imagesPerSecond > a.imagesPerSecond ? b : a));
const b1 = best(one);
const b64 = best(sixtyFour);
const fmt = (r: Result) =>
  `batch ${String(r.batch).padStart(2)}: ${r.msPerRun.mean.toFixed(3)} ms/run mean (p50 ${r.msPerRun.p50.toFixed(3)}, p99 ${r.msPerRun.p99.toFixed(3)}), ${Math.round(r.imagesPerSecond)} images/s (${Math.round(r.imagesPerCpuSecond)} per CPU-second) over ${r.runs} runs`;
console.log(
  `mnist-cnn in onnxruntime-node, intraOpNumThreads=${threads}, best of ${rounds} rounds of ${seconds}s`,
);
console.log(fmt(b1));
console.log(fmt(b64));
console.log(
  `ratio: batch-64 per-image throughput / batch-1 throughput = ${(b64.imagesPerSecond / b1.imagesPerSecond).toFixed(2)}x` +
    ` (per CPU-second: ${(b64.imagesPerCpuSecond / b1.imagesPerCpuSecond).toFixed(2)}x)`,
);
await session.release();
