// `npx tsx scripts/controlplane-measure.ts [runs] [--real-node]`: the test control plane's warm
// start-to-ready time (each run), apiserver restart and stop times, and the resident memory of each
// component after it has idled for a few seconds. Needs the cached binary (npm run
// controlplane:build). --real-node adds the real node with the kinfer image (npm run image:build):
// containerd, kubelet and kube-proxy are measured too, and the node's directory on disk.

import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { repoRoot, startControlPlane } from '../test/support/controlplane.ts';
import { ensureKinferImage } from '../test/support/node/images.ts';

// RSS counts the shared binary's pages in every process; PSS splits shared pages between the
// processes that map them, so the PSS total is what the set really costs in memory.
async function memoryKiB(pid: number): Promise<{ rss: number; pss: number }> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(rollup)?.[1] ?? Number.NaN);
  return { rss: field('Rss'), pss: field('Pss') };
}

const realNode = process.argv.includes('--real-node');
const runs = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 3);
const image = realNode ? await ensureKinferImage({ repoRoot }) : undefined;
const startups: number[] = [];
for (let run = 1; run <= runs; run++) {
  const controlPlane = await startControlPlane(image ? { realNode: { images: [image.archive] } } : {});
  if (controlPlane.realNode) {
    process.stdout.write(
      `run ${run}: real node ready ${controlPlane.realNode.startupMs} ms after the control plane\n`,
    );
  }
  startups.push(controlPlane.startupMs);
  process.stdout.write(`run ${run}: start-to-ready ${controlPlane.startupMs} ms\n`);
  if (run === runs) {
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const total = { rss: 0, pss: 0 };
    const mib = (kib: number) => `${Math.round(kib / 1024)} MiB`;
    for (const [name, pid] of Object.entries(controlPlane.pids())) {
      const memory = await memoryKiB(pid as number);
      total.rss += memory.rss;
      total.pss += memory.pss;
      process.stdout.write(`memory ${name}: rss ${mib(memory.rss)}, pss ${mib(memory.pss)}\n`);
    }
    process.stdout.write(`memory total: rss ${mib(total.rss)}, pss ${mib(total.pss)}\n`);
    if (controlPlane.realNode) {
      const du = execFileSync('du', ['-sh', controlPlane.realNode.dir], { encoding: 'utf8' }).split('\t')[0];
      process.stdout.write(`real node directory (containerd root with the images, kubelet, logs): ${du}\n`);
    }
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
