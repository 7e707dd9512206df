// `npx tsx scripts/controlplane-measure.ts [runs]`: the test control plane's warm start-to-ready
// time (each run), apiserver restart and stop times, and the resident memory of each component
// after it has idled for a few seconds. Needs the cached binary (npm run controlplane:build).
import { readFile } from 'node:fs/promises';
import { startControlPlane } from '../test/support/controlplane.ts';

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? Number.NaN);
}

const runs = Number(process.argv[2] ?? 3);
const startups: number[] = [];
for (let run = 1; run <= runs; run++) {
  const controlPlane = await startControlPlane();
  startups.push(controlPlane.startupMs);
  process.stdout.write(`run ${run}: start-to-ready ${controlPlane.startupMs} ms\n`);
  if (run === runs) {
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    let total = 0;
    for (const [name, pid] of Object.entries(controlPlane.pids())) {
      const kib = await rssKiB(pid as number);
      total += kib;
      process.stdout.write(`rss ${name}: ${Math.round(kib / 1024)} MiB\n`);
    }
    process.stdout.write(`rss total: ${Math.round(total / 1024)} MiB\n`);
    const restartStarted = Date.now();
    await controlPlane.restartApiServer();
    process.stdout.write(`apiserver restart: ${Date.now() - restartStarted} ms\n`);
  }
  const stopStarted = Date.now();
  await controlPlane.stop();
  process.stdout.write(`run ${run}: stop ${Date.now() - stopStarted} ms\n`);
}
const sorted = [...startups].sort((a, b) => a - b);
process.stdout.write(
  `start-to-ready over ${runs} runs: median ${sorted[Math.floor(runs / 2)]} ms, min ${sorted[0]} ms, max ${sorted[runs - 1]} ms\n`,
);
