import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Controller } from '../../../src/kube/controller.ts';
import { WorkQueue } from '../../../src/kube/queue.ts';

describe('WorkQueue', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('holds a key once however often it is added', async () => {
    const queue = new WorkQueue();
    queue.add('ns/a');
    queue.add('ns/b');
    queue.add('ns/a');
    expect(queue.length).toBe(2);
    expect(await queue.get()).toBe('ns/a');
    expect(await queue.get()).toBe('ns/b');
    expect(queue.length).toBe(0);
  });

  it('never hands out a key in processing; re-adding it queues it again after done', async () => {
    const queue = new WorkQueue();
    queue.add('ns/a');
    const key = await queue.get();
    queue.add('ns/a');
    queue.add('ns/a');
    expect(queue.length).toBe(0);
    let second: string | undefined;
    void queue.get().then((value) => {
      second = value;
    });
    await Promise.resolve();
    expect(second).toBeUndefined();
    queue.done(key!);
    await Promise.resolve();
    expect(second).toBe('ns/a');
    queue.done('ns/a');
    expect(queue.length).toBe(0);
  });

  it('backs off per key exponentially up to the maximum and resets on forget', async () => {
    const queue = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000 });
    const delays = [1, 2, 3, 4, 5, 6].map(() => queue.addRateLimited('ns/a'));
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(queue.addRateLimited('ns/b')).toBe(100);
    queue.forget('ns/a');
    expect(queue.failuresOf('ns/a')).toBe(0);
    expect(queue.addRateLimited('ns/a')).toBe(100);
  });

  it('adds a delayed key once, at the earliest time asked for', async () => {
    const queue = new WorkQueue();
    queue.addAfter('ns/a', 1000);
    queue.addAfter('ns/a', 300);
    queue.addAfter('ns/a', 2000);
    await vi.advanceTimersByTimeAsync(299);
    expect(queue.length).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(queue.length).toBe(1);
    await queue.get();
    queue.done('ns/a');
    await vi.advanceTimersByTimeAsync(5000);
    expect(queue.length).toBe(0);
  });

  it('reports how long a key waited', async () => {
    const waits: number[] = [];
    const queue = new WorkQueue({ onDequeue: (ms) => waits.push(ms) });
    queue.add('ns/a');
    await vi.advanceTimersByTimeAsync(250);
    await queue.get();
    expect(waits).toEqual([250]);
  });

  it('releases waiting workers with undefined on shutdown and ignores later adds', async () => {
    const queue = new WorkQueue();
    const pending = queue.get();
    queue.shutdown();
    expect(await pending).toBeUndefined();
    queue.add('ns/a');
    expect(queue.length).toBe(0);
    expect(await queue.get()).toBeUndefined();
  });
});

describe('Controller', () => {
  it('runs at most `concurrency` reconciles at once and one per key', async () => {
    let running = 0;
    let peak = 0;
    const perKey = new Map<string, number>();
    let perKeyPeak = 0;
    const seen: string[] = [];
    const controller = new Controller({
      name: 'test',
      concurrency: 3,
      reconcile: async (key) => {
        running++;
        peak = Math.max(peak, running);
        perKey.set(key, (perKey.get(key) ?? 0) + 1);
        perKeyPeak = Math.max(perKeyPeak, perKey.get(key)!);
        seen.push(key);
        await new Promise((resolve) => setTimeout(resolve, 5));
        perKey.set(key, perKey.get(key)! - 1);
        running--;
        return undefined;
      },
    });
    controller.start();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 10; i++) controller.enqueue(`ns/k${i}`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await vi.waitFor(() => expect(controller.queue.length + controller.queue.inFlight).toBe(0));
    await controller.stop();
    expect(peak).toBe(3);
    expect(perKeyPeak).toBe(1);
    // Every key reconciled at least once, and fewer times than it was added (de-duplication).
    expect(new Set(seen).size).toBe(10);
    expect(seen.length).toBeLessThan(30);
  });

  it('retries a failing key with backoff and stops retrying after a success', async () => {
    const attempts: number[] = [];
    const started = Date.now();
    const controller = new Controller({
      name: 'test',
      queue: { baseDelayMs: 20 },
      reconcile: async () => {
        attempts.push(Date.now() - started);
        if (attempts.length < 4) throw new Error('not yet');
        return undefined;
      },
    });
    controller.start();
    controller.enqueue('ns/a');
    await vi.waitFor(() => expect(attempts.length).toBe(4), { timeout: 2000 });
    // 20 + 40 + 80 ms of backoff before the fourth attempt.
    expect(attempts[3]!).toBeGreaterThanOrEqual(130);
    expect(controller.queue.failuresOf('ns/a')).toBe(0);
    await controller.stop();
  });

  it('requeues on request and resyncs every key periodically', async () => {
    const counts = new Map<string, number>();
    const controller = new Controller({
      name: 'test',
      resyncMs: 30,
      keys: () => ['ns/a', 'ns/b'],
      reconcile: async (key) => {
        counts.set(key, (counts.get(key) ?? 0) + 1);
        return key === 'ns/c' && counts.get(key) === 1 ? { requeueAfterMs: 10 } : undefined;
      },
    });
    controller.start();
    controller.enqueue('ns/c');
    await vi.waitFor(() => {
      expect(counts.get('ns/c')).toBe(2);
      expect(counts.get('ns/a')).toBeGreaterThanOrEqual(2);
      expect(counts.get('ns/b')).toBeGreaterThanOrEqual(2);
    });
    await controller.stop();
  });

  it('stop waits for the reconcile in flight and starts no new one', async () => {
    let finished = 0;
    let startedCount = 0;
    const controller = new Controller({
      name: 'test',
      concurrency: 1,
      reconcile: async () => {
        startedCount++;
        await new Promise((resolve) => setTimeout(resolve, 50));
        finished++;
        return undefined;
      },
    });
    controller.start();
    controller.enqueue('ns/a');
    controller.enqueue('ns/b');
    await vi.waitFor(() => expect(startedCount).toBe(1));
    await controller.stop();
    expect(finished).toBe(1);
    expect(startedCount).toBe(1);
  });
});
