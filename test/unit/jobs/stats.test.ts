import { describe, expect, it } from 'vitest';
import { argmax10, percentile, ResultAccumulator } from '../../../src/jobs/stats.ts';

describe('stats', () => {
  it('argmax10 picks the most probable class of each row', () => {
    const probabilities = new Float32Array(20);
    probabilities[3] = 0.9;
    probabilities[10 + 7] = 0.6;
    probabilities[10 + 1] = 0.4;
    expect([argmax10(probabilities, 0), argmax10(probabilities, 1)]).toEqual([3, 7]);
  });

  it('percentile is nearest-rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([], 50)).toBe(0);
    expect(percentile([7], 99)).toBe(7);
  });

  it('counts classes, accuracy over labelled images, and refuses a batch twice', () => {
    const acc = new ResultAccumulator();
    acc.record(0, [1, 2, 2], Uint8Array.from([1, 2, 3]), 10);
    acc.record(1, [9], Uint8Array.from([9]), 30);
    expect(() => acc.record(1, [9], undefined, 5)).toThrow(/twice/);
    const result = acc.result(2000);
    expect(result.classCounts).toEqual([0, 1, 2, 0, 0, 0, 0, 0, 0, 1]);
    expect(result.accuracy).toBe(0.75);
    expect(result.imagesPerSecond).toBe(2);
    expect(result.latencyMs).toEqual({ p50: 10, p99: 30 });
  });

  it('leaves accuracy out when nothing is labelled', () => {
    const acc = new ResultAccumulator();
    acc.record(0, [4], undefined, 1);
    expect(acc.result(1).accuracy).toBeUndefined();
    expect(acc.result(1).labelled).toBe(0);
  });
});
