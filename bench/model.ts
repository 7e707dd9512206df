/**
 * `npm run bench:model`: the builtin models side by side in onnxruntime-node, one process, no
 * server, in one run: images per CPU-second at batch 1 and batch 64, and top-1 accuracy on the
 * 10,000 MNIST test digits, with each model's ratio against the first (mnist-cnn) measured in
 * the same run. Rounds interleave the models so a burst of load from elsewhere hits all alike;
 * CPU time (this process's, all threads) is steadier than wall time on a shared machine.
 *
 *   npx tsx bench/model.ts [--threads 1] [--seconds 2] [--rounds 3] [--models mnist-cnn,mnist-small]
 */
// First: onnxruntime telemetry off before onnxruntime-node loads.
import './support/no-telemetry.ts';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { type BuiltinModel, builtinModels } from '../src/api/modeldeployment.ts';
import { loadMnistTest } from '../src/datasets/idx.ts';
import { builtinModelPath } from '../src/runtime/config.ts';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    models: { type: 'string', default: builtinModels.join(',') },
  },
});
const threads = Number(values.threads);
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
if (!Number.isInteger(threads) || threads < 1) throw new Error('--threads: expected a positive integer');
if (!(seconds > 0)) throw new Error('--seconds: expected a positive number');
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds: expected a positive integer');
const names = values.models.split(',') as BuiltinModel[];
for (const name of names)
  if (!builtinModels.includes(name))
    throw new Error(`--models: "${name}" is not one of ${builtinModels.join(', ')}`);

const test = await loadMnistTest();
const pixels = new Float32Array(test.images.length);
for (let k = 0; k < pixels.length; k++) pixels[k] = test.images[k]! / 255;
/** `size` consecutive test digits from `offset` (wrapping), as an input tensor. */
const batchOf = (size: number, offset: number) => {
  const data = new Float32Array(size * 784);
  for (let i = 0; i < size; i++) {
    const digit = (offset + i) % test.count;
    data.set(pixels.subarray(digit * 784, (digit + 1) * 784), i * 784);
  }
  return new ort.Tensor('float32', data, [size, 1, 28, 28]);
};

const sessions = new Map<BuiltinModel, ort.InferenceSession>();
for (const name of names)
  sessions.set(
    name,
    await ort.InferenceSession.create(builtinModelPath(name), {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    }),
  );

async function accuracy(session: ort.InferenceSession): Promise<number> {
  let correct = 0;
  for (let start = 0; start < test.count; start += 500) {
    const probabilities = (await session.run({ input: batchOf(500, start) })).probabilities!
      .data as Float32Array;
    for (let i = 0; i < 500; i++) {
      const row = probabilities.subarray(i * 10, i * 10 + 10);
      if (row.indexOf(Math.max(...row)) === test.labels[start + i]) correct++;
    }
  }
  return correct / test.count;
}

interface Speed {
  imagesPerCpuSecond: number;
  imagesPerSecond: number;
  msPerRun: number;
}

/** Back-to-back runs on batches of `batch` real digits for `seconds`. */
async function measure(session: ort.InferenceSession, batch: number): Promise<Speed> {
  const inputs = Array.from({ length: 16 }, (_, i) => batchOf(batch, i * batch));
  for (let i = 0; i < 20; i++) await session.run({ input: inputs[i % inputs.length]! }); // warm-up
  let runs = 0;
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const deadline = start + seconds * 1000;
  while (performance.now() < deadline) await session.run({ input: inputs[runs++ % inputs.length]! });
  const elapsed = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  return {
    imagesPerCpuSecond: (runs * batch) / ((cpu.user + cpu.system) / 1e6),
    imagesPerSecond: (runs * batch) / elapsed,
    msPerRun: (elapsed * 1000) / runs,
  };
}

const batches = [1, 64] as const;
const best = new Map<string, Speed>();
const key = (name: string, batch: number) => `${name}@${batch}`;
for (let r = 0; r < rounds; r++) {
  for (const name of names) {
    for (const batch of batches) {
      const speed = await measure(sessions.get(name)!, batch);
      const previous = best.get(key(name, batch));
      if (!previous || speed.imagesPerCpuSecond > previous.imagesPerCpuSecond)
        best.set(key(name, batch), speed);
    }
  }
}
const accuracies = new Map<BuiltinModel, number>();
for (const name of names) accuracies.set(name, await accuracy(sessions.get(name)!));

const baseline = names[0]!;
console.log(
  `builtin models in onnxruntime-node ${ort.env.versions.common}, intraOpNumThreads=${threads}, best of ${rounds} interleaved rounds of ${seconds}s per point`,
);
console.log(
  `${'model'.padEnd(12)} ${'accuracy'.padStart(8)}   ${batches.map((b) => `batch ${b}: img/cpu-s (ms/run)`.padStart(31)).join(' ')}`,
);
for (const name of names) {
  const cells = batches.map((b) => {
    const s = best.get(key(name, b))!;
    return `${Math.round(s.imagesPerCpuSecond)} (${s.msPerRun.toFixed(3)})`.padStart(31);
  });
  console.log(
    `${name.padEnd(12)} ${`${(accuracies.get(name)! * 100).toFixed(2)}%`.padStart(8)}   ${cells.join(' ')}`,
  );
}
console.log(`ratios against ${baseline}, images per CPU-second (goal for a cheaper model: >= 4 at both):`);
for (const name of names.slice(1)) {
  const ratios = batches.map(
    (b) =>
      `batch ${b}: ${(best.get(key(name, b))!.imagesPerCpuSecond / best.get(key(baseline, b))!.imagesPerCpuSecond).toFixed(2)}x`,
  );
  const points = ((accuracies.get(name)! - accuracies.get(baseline)!) * 100).toFixed(2);
  console.log(
    `  ${name}: ${ratios.join(', ')}; accuracy ${points.startsWith('-') ? '' : '+'}${points} points`,
  );
}
for (const session of sessions.values()) await session.release();
