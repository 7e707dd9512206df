import { describe, expect, it } from 'vitest';
import { syntheticDigits } from '../../../src/jobs/input/synthetic.ts';

describe('syntheticDigits', () => {
  it('is deterministic per seed, and image i does not depend on the count', () => {
    const a = syntheticDigits(20, 7);
    const b = syntheticDigits(5, 7);
    expect(Buffer.from(a.read(0, 5)).equals(Buffer.from(b.read(0, 5)))).toBe(true);
    expect(Buffer.from(a.read(3, 2)).equals(Buffer.from(b.read(3, 2)))).toBe(true);
    expect([...a.labels!.subarray(0, 5)]).toEqual([...b.labels!]);
    const c = syntheticDigits(5, 8);
    expect(Buffer.from(c.read(0, 5)).equals(Buffer.from(b.read(0, 5)))).toBe(false);
  });

  it('draws every digit, centred with a black border like MNIST', () => {
    const digits = syntheticDigits(300, 1);
    const { labels, count } = digits;
    const images = digits.read(0, count);
    expect(new Set(labels).size).toBe(10);
    for (let i = 0; i < count; i++) {
      const image = images.subarray(i * 784, (i + 1) * 784);
      const ink = image.reduce((sum: number, v: number) => sum + v, 0) / 255;
      expect(ink).toBeGreaterThan(40);
      for (let k = 0; k < 28; k++) {
        expect(image[k]).toBe(0);
        expect(image[27 * 28 + k]).toBe(0);
      }
    }
  });

  it('renders fast enough for large jobs (a million digits are read batch by batch)', () => {
    const digits = syntheticDigits(1_000_000, 2);
    expect(digits.count).toBe(1_000_000);
    const started = performance.now();
    digits.read(999_000, 1000);
    // Generous bound: about 0.05 ms per digit here; the naive renderer took 1.4 ms.
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
