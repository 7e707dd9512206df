import { describe, expect, it } from 'vitest';
import { layoutMosaic, RecentImages } from '../../../src/jobs/mosaic.ts';

describe('mosaic', () => {
  const images = new Uint8Array(5 * 784);
  for (let i = 0; i < 5; i++) images.fill(i + 1, i * 784, (i + 1) * 784);
  const image = (index: number) => images.subarray(index * 784, (index + 1) * 784);

  it('lays images out row-major in 28x28 cells', () => {
    const pixels = layoutMosaic(image, [4, 2, 0], 2, 2);
    const width = 56;
    expect(pixels.length).toBe(56 * 56);
    expect(pixels[0]).toBe(5);
    expect(pixels[27 * width + 27]).toBe(5);
    expect(pixels[28]).toBe(3);
    expect(pixels[28 * width]).toBe(1);
    expect(pixels[28 * width + 28]).toBe(0);
  });

  it('keeps the most recent images with their labels', () => {
    const recent = new RecentImages(3);
    for (let i = 0; i < 5; i++) recent.add(i, (i * 3) % 10);
    const mosaic = recent.mosaic(image, 2)!;
    expect(mosaic.indices).toEqual([2, 3, 4]);
    expect(mosaic.labels).toEqual([6, 9, 2]);
    expect([mosaic.rows, mosaic.cols]).toEqual([2, 2]);
    expect(recent.version).toBe(5);
    expect(new RecentImages(3).mosaic(image, 2)).toBeUndefined();
  });
});
