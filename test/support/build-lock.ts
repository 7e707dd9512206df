import { readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { processAlive } from './controlplane-process.ts';

export interface BuildLockOptions {
  /** Called once when another live process holds the lock and this one starts waiting. */
  onWait?: (holderPid: number) => void;
  pollMs?: number;
}

/**
 * One cold build per cache entry on a machine. The cached builds (control plane, images, GitOps
 * judges) were already safe to run concurrently (each writes a temp path and renames it into
 * place), but on 2 cores N identical builds beside each other take N times as long each: kube
 * test runs in several work trees each started their own. A second process now waits for the
 * first and then finds the cache filled.
 *
 * The lock is a file created exclusively, holding its owner's pid. A lock whose owner is dead is
 * stale and is taken over; an empty one is being written and is waited on. Two processes that
 * find the same stale lock at the same instant may both build: the temp-and-rename writes keep
 * that correct, it only costs what it did before the lock.
 *
 * Returns the release function.
 */
export async function acquireBuildLock(
  path: string,
  { onWait, pollMs = 1000 }: BuildLockOptions = {},
): Promise<() => Promise<void>> {
  let waiting = false;
  for (;;) {
    try {
      await writeFile(path, String(process.pid), { flag: 'wx' });
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(holder) && holder > 0 && !processAlive(holder)) {
      await rm(path, { force: true });
      continue;
    }
    if (!waiting && Number.isInteger(holder)) {
      waiting = true;
      onWait?.(holder);
    }
    await sleep(pollMs);
  }
}

/**
 * Runs `build` under the lock unless `cached` already answers (checked again once the lock is
 * held: the process that held it has usually just filled the cache).
 */
export async function buildOnce<T>(
  lockPath: string,
  cached: () => Promise<T | undefined>,
  build: () => Promise<T>,
  options: BuildLockOptions = {},
): Promise<T> {
  const before = await cached();
  if (before !== undefined) return before;
  const release = await acquireBuildLock(lockPath, options);
  try {
    return (await cached()) ?? (await build());
  } finally {
    await release();
  }
}
