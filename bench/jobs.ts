/**
 * `npm run bench:jobs`: the job runner's batch sender against a `kinfer runtime` child process
 * (the bundled model), sending the same images as JSON and as binary tensors (Triton's binary
 * tensor extension, binary output too), alternating rounds in the same run. Prints images/s and
 * images per CPU-second (the runner's process, the runtime's, both), and binary/json ratios.
 * The runtime's CPU is read from /proc/<pid>/stat (every thread, inference workers included).
 * Options: --images N (default 10000, from mnist-test), --rounds N per encoding (default 3),
 * --batch 64, --concurrency 4.
 */
import { parseArgs } from 'node:util';
import { loadInput } from '../src/jobs/input/load.ts';
import { sendBatches } from '../src/jobs/sender.ts';
import type { TensorEncoding } from '../src/jobs/v2-codec.ts';
import { bundledModelPath } from '../src/runtime/config.ts';
import { startRuntime, stopChild } from './support/child.ts';
import { cpuSeconds } from './support/load.ts';
import { spread } from './support/spread.ts';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
    batch: { type: 'string', default: '64' },
    concurrency: { type: 'string', default: '4' },
    model: { type: 'string', default: process.env.KINFER_MODEL ?? bundledModelPath },
  },
});
const images = Number(values.images);
const rounds = Number(values.rounds);
const batchSize = Number(values.batch);
const concurrency = Number(values.concurrency);

const ownCpuSeconds = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

interface Round {
  seconds: number;
  clientCpu: number;
  serverCpu: number;
}

const input = await loadInput({ dataset: 'mnist-test', limit: images });
const { child, port } = await startRuntime(values.model, []);
const endpoint = `http://127.0.0.1:${port}/v2/models/mnist-cnn/infer`;
const pid = child.pid!;

async function round(encoding: TensorEncoding): Promise<Round> {
  const wall = performance.now();
  const client = ownCpuSeconds();
  const server = cpuSeconds(pid);
  let answered = 0;
  await sendBatches(input, input.count, {
    endpoint,
    batchSize,
    concurrency,
    encoding,
    onBatch: ({ count }) => {
      answered += count;
    },
    onFallback: () => {
      throw new Error('the runtime refused binary tensors');
    },
  });
  if (answered !== input.count) throw new Error(`${answered} of ${input.count} images answered`);
  return {
    seconds: (performance.now() - wall) / 1000,
    clientCpu: ownCpuSeconds() - client,
    serverCpu: cpuSeconds(pid) - server,
  };
}

const median = (xs: number[]) => spread(xs).median;

console.log(
  `bench:jobs  ${input.count} images, batch ${batchSize}, ${concurrency} in flight, ${rounds} rounds each (alternating), runtime pid ${pid}`,
);
const results: Record<TensorEncoding, Round[]> = { json: [], binary: [] };
try {
  await round('binary'); // warm-up: connections, JIT, the runtime's first batches
  await round('json');
  for (let i = 0; i < rounds; i++) {
    for (const encoding of ['json', 'binary'] as const) results[encoding].push(await round(encoding));
  }
} finally {
  await stopChild(child);
}

const summary = (encoding: TensorEncoding) => {
  const rs = results[encoding];
  return {
    imagesPerSecond: median(rs.map((r) => input.count / r.seconds)),
    perCpu: median(rs.map((r) => input.count / (r.clientCpu + r.serverCpu))),
    perClientCpu: median(rs.map((r) => input.count / r.clientCpu)),
    perServerCpu: median(rs.map((r) => input.count / r.serverCpu)),
  };
};
const json = summary('json');
const binary = summary('binary');
const row = (label: string, s: typeof json) =>
  `${label.padEnd(10)} ${s.imagesPerSecond.toFixed(0).padStart(9)} ${s.perCpu.toFixed(0).padStart(12)} ${s.perClientCpu.toFixed(0).padStart(12)} ${s.perServerCpu.toFixed(0).padStart(12)}`;
console.log(
  `${''.padEnd(10)} ${'images/s'.padStart(9)} ${'img/CPU-s'.padStart(12)} ${'runner'.padStart(12)} ${'runtime'.padStart(12)}`,
);
console.log(row('json', json));
console.log(row('binary', binary));
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`.padStart(12);
console.log(
  `${'bin/json'.padEnd(10)} ${ratio(binary.imagesPerSecond, json.imagesPerSecond).padStart(9)} ${ratio(binary.perCpu, json.perCpu)} ${ratio(binary.perClientCpu, json.perClientCpu)} ${ratio(binary.perServerCpu, json.perServerCpu)}`,
);
console.log(
  '(medians over the rounds; img/CPU-s counts the runner and the runtime; runner/runtime: each alone)',
);
