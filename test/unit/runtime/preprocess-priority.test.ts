import { getPriority } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { PreprocessPool } from '../../../src/runtime/preprocess/pool.ts';
import { threadNice } from '../../../src/runtime/preprocess/priority.ts';

// The preprocessing threads run at a lower OS priority than the thread that started them (the
// event loop), as the kernel itself reports it in /proc/<pid>/task/<tid>/stat.

let pool: PreprocessPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

/** Once every thread has reported, their (tid, nice) as they said and as /proc says. */
async function started(size: number, niceIncrement: number) {
  pool = new PreprocessPool(size, 1_000_000, niceIncrement);
  const running = pool;
  await expect.poll(() => running.priorities.length, { timeout: 30_000 }).toBe(size);
  // And they still do their work.
  expect(await running.run([{ kind: 'pixels', pixels: new Array(784).fill(1) }])).toHaveLength(784);
  const priorities = pool.priorities;
  expect(priorities).toHaveLength(size);
  return priorities.map((priority) => {
    if ('error' in priority) throw new Error(priority.error);
    return { ...priority, fromProc: threadNice(process.pid, priority.tid) };
  });
}

describe.runIf(process.platform === 'linux')('preprocessing thread priority', () => {
  it('runs each thread preprocessNice levels below the thread that started the pool, and only them', async () => {
    const own = getPriority();
    const threads = await started(2, 5);
    for (const thread of threads) {
      expect(thread.fromProc).toBe(Math.min(19, own + 5));
      expect(thread.nice).toBe(thread.fromProc);
    }
    expect(new Set(threads.map((t) => t.tid)).size).toBe(2);
    expect(getPriority()).toBe(own);
  });

  it('caps the nice value at 19 and leaves it alone with an increment of 0', async () => {
    const own = getPriority();
    const [capped] = await started(1, 19);
    expect(capped!.fromProc).toBe(19);
    await pool!.close();
    const [same] = await started(1, 0);
    expect(same!.fromProc).toBe(own);
  });
});
