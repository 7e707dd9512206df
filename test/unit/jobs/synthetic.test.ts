import { describe, expect, it } from 'vitest';
import { syntheticDigits } from '../../../src/jobs/input/synthetic.ts';

describe('syntheticDigits', () => {
  it('is deterministic per seed, and image i does not depend on the count', () => {
    const a = syntheticDigits(20, 7);
    const b = syntheticDigits(5, 7);
    expect(Buffer.from(a.images.subarray(0, 5 * 784)).equals(Buffer.from(b.images))).toBe(true);
    expect([...a.labels!.subarray(0, 5)]).toEqual([...b.labels!]);
    const c = syntheticDigits(5, 8);
    expect(Buffer.from(c.images).equals(Buffer.from(b.images))).toBe(false);
  });

  it('draws every digit, centred with a black border like MNIST', () => {
    const { images, labels, count } = syntheticDigits(300, 1);
    expect(new Set(labels).size).toBe(10);
    for (let i = 0; i < count; i++) {
      const image = images.subarray(i * 784, (i + 1) * 784);
      const ink = image.reduce((sum, v) => sum + v, 0) / 255;
      expect(ink).toBeGreaterThan(40);
      for (let k = 0; k < 28; k++) {
        expect(image[k]).toBe(0);
        expect(image[27 * 28 + k]).toBe(0);
      }
    }
  });
});
