import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireBuildLock, buildOnce } from '../../support/build-lock.ts';

let dir: string;
let lock: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'build-lock-'));
  lock = join(dir, 'x.lock');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** The pid of a process that has exited (its pid is free and not reused this quickly). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid as number;
}

describe('build lock', () => {
  it('runs one build while a second caller waits and then finds the cache filled', async () => {
    let cache: string | undefined;
    let builds = 0;
    const waits: number[] = [];
    const build = async () => {
      builds++;
      await sleep(300);
      cache = `built by call ${builds}`;
      return cache;
    };
    const cached = async () => cache;
    const [first, second] = await Promise.all([
      buildOnce(lock, cached, build, { pollMs: 20 }),
      sleep(50).then(() => buildOnce(lock, cached, build, { pollMs: 20, onWait: (pid) => waits.push(pid) })),
    ]);
    expect(builds).toBe(1);
    expect(first).toBe('built by call 1');
    expect(second).toBe('built by call 1');
    expect(waits).toEqual([process.pid]);
    await expect(readFile(lock, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('does not take the lock when the cache already answers', async () => {
    await writeFile(lock, String(process.pid));
    const result = await buildOnce(
      lock,
      async () => 'cached',
      async () => 'built',
      { pollMs: 20 },
    );
    expect(result).toBe('cached');
  });

  it('takes over a lock whose owner is dead', async () => {
    await writeFile(lock, String(await deadPid()));
    const release = await acquireBuildLock(lock, { pollMs: 20 });
    expect(await readFile(lock, 'utf8')).toBe(String(process.pid));
    await release();
  });

  it('waits on a lock that is being written (empty) instead of stealing it', async () => {
    await writeFile(lock, '');
    let acquired = false;
    const pending = acquireBuildLock(lock, { pollMs: 20 }).then((release) => {
      acquired = true;
      return release;
    });
    await sleep(200);
    expect(acquired).toBe(false);
    await rm(lock);
    const release = await pending;
    expect(acquired).toBe(true);
    await release();
  });

  it('releases the lock when the build fails', async () => {
    await expect(
      buildOnce(
        lock,
        async () => undefined,
        async () => Promise.reject(new Error('go build failed')),
      ),
    ).rejects.toThrow('go build failed');
    await expect(readFile(lock, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
