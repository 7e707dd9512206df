import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot, startControlPlane } from '../controlplane.ts';
import { pollUntil } from '../controlplane-http.ts';
import { diffHost, type HostSnapshot, snapshotHost } from './host-state.ts';
import { lockPath } from './real-node.ts';

// Two full cycles of a real-node cluster, each compared with the host before it: one stopped as
// the harness stops it (stop()), one whose process is SIGKILLed (its janitor cleans up).

export interface HostCheck {
  before: HostSnapshot;
  /** While the first cluster ran: what the node had changed. */
  during: HostSnapshot;
  /** After stop(): differences from `before` (empty when restored). */
  afterStop: string[];
  /** After SIGKILL of the process that started the second cluster, once its janitor finished. */
  afterKill: string[];
  /** Processes still running after the SIGKILL whose command line names the killed cluster's dirs. */
  leftAfterKill: string[];
}

async function processesMentioning(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const line = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
    if (line.includes(text)) found.push(`${entry}: ${line.slice(0, 200)}`);
  }
  return found;
}

export async function checkHostRestore(): Promise<HostCheck> {
  const before = await snapshotHost();
  const cluster = await startControlPlane({ realNode: { images: [] }, crdsDir: null, nodes: 1 });
  const during = await snapshotHost();
  await cluster.stop();
  const afterStop = diffHost(before, await snapshotHost());

  const beforeKill = await snapshotHost();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(repoRoot, 'test/support/node/probe-cluster.ts')],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const { dir, controlPlaneDir } = await pollUntil(
    'the probe cluster to start',
    async () => {
      if (child.exitCode !== null) throw new Error(`the probe cluster exited: ${output}`);
      const line = output.split('\n').find((l) => l.startsWith('{'));
      return line ? (JSON.parse(line) as { dir: string; controlPlaneDir: string }) : undefined;
    },
    { timeoutMs: 240_000, intervalMs: 200 },
  );
  child.kill('SIGKILL');
  await exited;
  await pollUntil(
    'the janitor to restore the host',
    async () => (existsSync(lockPath()) ? undefined : true),
    {
      timeoutMs: 120_000,
      intervalMs: 200,
    },
  );
  // The control plane's own processes stop by themselves (kcp's watchdog), within ~10 s.
  const left = async () => [
    ...(await processesMentioning(dir)),
    ...(await processesMentioning(controlPlaneDir)),
  ];
  const leftAfterKill = await pollUntil(
    'the killed cluster to stop',
    async () => {
      const running = await left();
      return running.length === 0 ? running : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  ).catch(left);
  const afterKill = diffHost(beforeKill, await snapshotHost());
  return { before, during, afterStop, afterKill, leftAfterKill };
}
