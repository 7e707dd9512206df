import { describe, expect, it } from 'vitest';
import { OverloadedError, ShuttingDownError } from '../../../src/runtime/errors.ts';
import { Batcher, type BatcherOptions, type RunBatch } from '../../../src/runtime/inference/batcher.ts';

const IN = 3;
const OUT = 2;

/** A fake model whose outputs identify the input: row i -> [first value, sum of the row]. */
function fakeModel(delayMs = 0) {
  const batches: number[] = [];
  let running = 0;
  let maxRunning = 0;
  const run: RunBatch = async (data, count) => {
    batches.push(count);
    running++;
    maxRunning = Math.max(maxRunning, running);
    await new Promise((r) => setTimeout(r, delayMs));
    running--;
    const output = new Float32Array(count * OUT);
    for (let i = 0; i < count; i++) {
      const row = data.subarray(i * IN, (i + 1) * IN);
      output[i * OUT] = row[0]!;
      output[i * OUT + 1] = row.reduce((a, b) => a + b, 0);
    }
    return { output, inferenceMs: delayMs };
  };
  return { run, batches, maxRunning: () => maxRunning };
}

const options = (o: Partial<BatcherOptions> = {}): BatcherOptions => ({
  maxBatchSize: 8,
  maxDelayMs: 5,
  queueLimit: 1000,
  concurrency: 1,
  inputSize: IN,
  outputSize: OUT,
  ...o,
});

/** One turn of the event loop: what was submitted before it has been sent. */
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** `count` images; every value of row k is `id*1000 + k`, so each row is recognisable. */
const images = (id: number, count: number) =>
  Float32Array.from({ length: count * IN }, (_, i) => id * 1000 + Math.floor(i / IN));

describe('Batcher', () => {
  it('merges concurrent requests into batches and gives each caller exactly its own rows', async () => {
    const model = fakeModel(2);
    const batcher = new Batcher(model.run, options({ maxBatchSize: 16 }));
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, id) => batcher.submit(images(id, 1 + (id % 3)), 1 + (id % 3))),
    );
    results.forEach((out, id) => {
      const count = 1 + (id % 3);
      expect(out.length).toBe(count * OUT);
      for (let k = 0; k < count; k++) {
        expect(out[k * OUT]).toBe(id * 1000 + k);
        expect(out[k * OUT + 1]).toBe(3 * (id * 1000 + k));
      }
    });
    const total = Array.from({ length: 40 }, (_, id) => 1 + (id % 3)).reduce((a, b) => a + b, 0);
    expect(model.batches.reduce((a, b) => a + b, 0)).toBe(total);
    expect(Math.max(...model.batches)).toBeLessThanOrEqual(16);
    expect(model.batches.length).toBeLessThan(10); // 79 images in batches of up to 16, not 40 runs
  });

  it('splits a request larger than one batch and reassembles it in order', async () => {
    const model = fakeModel();
    const batcher = new Batcher(model.run, options({ maxBatchSize: 8 }));
    const out = await batcher.submit(images(7, 30), 30);
    expect(model.batches).toEqual([8, 8, 8, 6]);
    for (let k = 0; k < 30; k++) expect(out[k * OUT]).toBe(7000 + k);
  });

  it('sends an owned request that is a batch alone as it is, and copies everything else', async () => {
    const seen: Float32Array[] = [];
    const model = fakeModel();
    const batcher = new Batcher(
      (data, count) => {
        seen.push(data);
        return model.run(data, count);
      },
      options({ maxBatchSize: 4 }),
    );
    const owned = images(1, 4);
    await batcher.submit(owned, 4, true);
    expect(seen[0]).toBe(owned);
    const lent = images(2, 4);
    await batcher.submit(lent, 4);
    expect(seen[1]!.buffer).not.toBe(lent.buffer);
    // Split across batches, an owned request is copied too (one buffer cannot go twice).
    const big = images(3, 6);
    const out = await batcher.submit(big, 6, true);
    expect(seen.slice(2).every((data) => data.buffer !== big.buffer)).toBe(true);
    for (let k = 0; k < 6; k++) expect(out[k * OUT]).toBe(3000 + k);
  });

  it('sends a request at once when every worker is idle', async () => {
    const model = fakeModel();
    const batcher = new Batcher(model.run, options({ maxBatchSize: 4, maxDelayMs: 5_000 }));
    const started = performance.now();
    await batcher.submit(images(1, 1), 1);
    expect(performance.now() - started).toBeLessThan(2_500);
  });

  it('while a batch runs, holds a lone request up to maxDelayMs for company, but sends a full batch at once', async () => {
    const starts: number[] = [];
    const model = fakeModel(300);
    const run: RunBatch = (data, count) => {
      starts.push(performance.now());
      return model.run(data, count);
    };
    const batcher = new Batcher(run, options({ maxBatchSize: 4, maxDelayMs: 60, concurrency: 3 }));
    const busy = batcher.submit(images(1, 1), 1); // occupies one worker for 300 ms
    await tick();
    const loneAt = performance.now();
    const lone = batcher.submit(images(2, 1), 1);
    await lone;
    expect(starts[1]! - loneAt).toBeGreaterThanOrEqual(55);

    const slow = new Batcher(run, options({ maxBatchSize: 4, maxDelayMs: 5_000, concurrency: 2 }));
    const first = slow.submit(images(3, 1), 1);
    await tick();
    const fullAt = performance.now();
    await slow.submit(images(4, 4), 4);
    expect(starts[3]! - fullAt).toBeLessThan(2_500);
    await Promise.all([busy, first]);
  });

  it('sends what arrives in one turn of the event loop as one batch, even with every worker idle', async () => {
    const model = fakeModel();
    const batcher = new Batcher(model.run, options({ maxBatchSize: 16, maxDelayMs: 0, concurrency: 2 }));
    await Promise.all(Array.from({ length: 10 }, (_, id) => batcher.submit(images(id, 1), 1)));
    expect(model.batches).toEqual([10]);
  });

  it('never runs more batches at once than its concurrency', async () => {
    const model = fakeModel(5);
    const batcher = new Batcher(model.run, options({ maxBatchSize: 2, maxDelayMs: 0, concurrency: 2 }));
    await Promise.all(Array.from({ length: 20 }, (_, id) => batcher.submit(images(id, 1), 1)));
    expect(model.maxRunning()).toBe(2);
  });

  it('refuses work beyond the queue limit with OverloadedError, and accepts again once drained', async () => {
    const model = fakeModel(20);
    const batcher = new Batcher(model.run, options({ maxBatchSize: 2, maxDelayMs: 0, queueLimit: 4 }));
    const first = batcher.submit(images(0, 2), 2); // dispatched at once
    await tick();
    const queued = [batcher.submit(images(1, 2), 2), batcher.submit(images(2, 2), 2)];
    expect(batcher.queuedImages).toBe(4);
    await expect(batcher.submit(images(3, 1), 1)).rejects.toBeInstanceOf(OverloadedError);
    await Promise.all([first, ...queued]);
    await expect(batcher.submit(images(4, 1), 1)).resolves.toHaveLength(OUT);
  });

  it('fails every caller of a failed batch and keeps serving', async () => {
    let fail = true;
    const model = fakeModel();
    const batcher = new Batcher(
      async (data, count) => {
        if (fail) throw new Error('boom');
        return model.run(data, count);
      },
      options({ maxDelayMs: 5 }),
    );
    const doomed = [batcher.submit(images(1, 1), 1), batcher.submit(images(2, 1), 1)];
    await expect(Promise.all(doomed)).rejects.toThrow('boom');
    await Promise.allSettled(doomed);
    fail = false;
    await expect(batcher.submit(images(3, 1), 1)).resolves.toHaveLength(OUT);
  });

  it('close() finishes queued work at once, then refuses new work', async () => {
    const model = fakeModel(50);
    const batcher = new Batcher(model.run, options({ maxDelayMs: 60_000, concurrency: 2 }));
    const running = batcher.submit(images(1, 1), 1);
    await tick();
    const waiting = batcher.submit(images(2, 1), 1); // would wait a minute for company
    expect(batcher.queuedImages).toBe(1);
    const started = performance.now();
    await batcher.close();
    expect(performance.now() - started).toBeLessThan(10_000);
    await expect(running).resolves.toHaveLength(OUT);
    await expect(waiting).resolves.toHaveLength(OUT);
    await expect(batcher.submit(images(2, 1), 1)).rejects.toBeInstanceOf(ShuttingDownError);
  });
});
