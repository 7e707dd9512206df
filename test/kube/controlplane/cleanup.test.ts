import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { repoRoot, sweepStaleDirs } from '../../support/controlplane.ts';
import { waitFor } from '../../support/kube.ts';

/** True while `pid` is a live process (a zombie waiting to be reaped counts as gone). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('control plane cleanup', () => {
  it('leaves no component running when the process that started it is SIGKILLed', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(repoRoot, 'test/kube/controlplane/fixtures/start-and-wait.ts')],
      {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`fixture exited with ${code} before starting`)));
      });
      const started = JSON.parse(line) as { pids: Record<string, number>; dir: string };
      const pids = Object.values(started.pids);
      expect(Object.keys(started.pids).sort()).toEqual([
        'etcd',
        'kube-apiserver',
        'kube-controller-manager',
        'kube-scheduler',
        'kwok',
      ]);
      expect(pids.every(running)).toBe(true);

      // No exit hook can run after SIGKILL: only kcp's own parent watchdog stops the components.
      child.kill('SIGKILL');
      await waitFor('every component to exit', async () => (pids.some(running) ? undefined : true), {
        timeoutMs: 20_000,
      });
      // The temp dir stays behind (nothing could remove it); the next start sweeps it away.
      expect(existsSync(started.dir)).toBe(true);
      await sweepStaleDirs();
      expect(existsSync(started.dir)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
