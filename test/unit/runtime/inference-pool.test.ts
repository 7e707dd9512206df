import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledModelPath } from '../../../src/runtime/config.ts';
import { readModel } from '../../../src/runtime/inference/model.ts';
import { WorkerPool } from '../../../src/runtime/inference/pool.ts';

let pool: WorkerPool;
beforeAll(async () => {
  const file = await readModel(bundledModelPath);
  pool = await WorkerPool.start(1, { model: file.bytes, intraOpNumThreads: 1, warmupBatchSizes: [1] });
});
afterAll(() => pool.close());

describe('WorkerPool', () => {
  it('moves each batch to its worker, which frees it once run (no collection needed)', async () => {
    // ArrayBuffer memory is counted process-wide (the allocator that made it frees it): 20 batches
    // of 64 digits (4 MB), each moved to the worker, would be held until the worker's isolate
    // collected them (at 4 MB it would not yet); freed after each run, they are gone at once.
    const batches = Array.from({ length: 20 }, () => new Float32Array(64 * 784).fill(0.5));
    const before = process.memoryUsage().arrayBuffers;
    for (const batch of batches) {
      const { output } = await pool.run(batch, 64);
      expect(batch.length).toBe(0); // moved, not copied
      expect(output.length).toBe(640);
    }
    expect(before - process.memoryUsage().arrayBuffers).toBeGreaterThan(0.9 * 20 * 64 * 784 * 4);
  });
});
