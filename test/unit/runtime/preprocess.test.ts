import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadMnistTest } from '../../../src/datasets/idx.ts';
import { InvalidInputError } from '../../../src/runtime/errors.ts';
import {
  fromPixels,
  fromPng,
  fromStrokes,
  normalizeDigit,
  PIXELS,
  SIZE,
  toWhiteOnBlack,
} from '../../../src/runtime/preprocess/index.ts';
import { centreOfMass, inkBoundingBox } from '../../../src/runtime/preprocess/normalize.ts';
import { encodePng, sevenImage } from './png-fixtures.ts';

const meanAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += Math.abs(a[i]! - b[i]!);
  return d / a.length;
};

function box(img: Float32Array) {
  const b = inkBoundingBox(img, SIZE, SIZE)!;
  return { width: b.right - b.left + 1, height: b.bottom - b.top + 1, ...b };
}

describe('normalizeDigit', () => {
  it('returns an all-black image when there is no ink', () => {
    expect(normalizeDigit(new Float32Array(100), 10, 10).every((v) => v === 0)).toBe(true);
  });

  it('scales the digit into 20x20 keeping its aspect ratio and centres its mass', () => {
    // A 10x40 bar in the corner of a 100x100 image.
    const img = new Float32Array(100 * 100);
    for (let y = 5; y < 45; y++) for (let x = 2; x < 12; x++) img[y * 100 + x] = 1;
    const out = normalizeDigit(img, 100, 100);
    expect(out.length).toBe(PIXELS);
    const b = box(out);
    expect(b.height).toBe(20);
    expect(b.width).toBe(5);
    const com = centreOfMass(out, SIZE, SIZE);
    expect(Math.abs(com.x - 14.5)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(com.y - 14.5)).toBeLessThanOrEqual(0.5);
  });

  it('grows a tiny digit to the 20-pixel box', () => {
    const img = new Float32Array(9 * 9);
    for (let y = 2; y < 7; y++) img[y * 9 + 4] = 1;
    expect(box(normalizeDigit(img, 9, 9)).height).toBe(20);
  });

  it('leaves real MNIST digits (already normalised that way) practically unchanged', async () => {
    const { images } = await loadMnistTest();
    let worst = 0;
    let total = 0;
    const n = 500;
    for (let i = 0; i < n; i++) {
      const raw = images.subarray(i * PIXELS, (i + 1) * PIXELS);
      const diff = meanAbsDiff(
        fromPixels(raw),
        Array.from(raw, (v) => v / 255),
      );
      worst = Math.max(worst, diff);
      total += diff;
    }
    expect(total / n).toBeLessThan(0.001);
    expect(worst).toBeLessThan(0.01);
  });

  it('dilates and blurs on request, staying within 0..1', () => {
    const img = sevenImage(56);
    const plain = normalizeDigit(img, 56, 56);
    const thick = normalizeDigit(img, 56, 56, { dilate: 1 });
    const soft = normalizeDigit(img, 56, 56, { blur: 1 });
    const ink = (a: Float32Array) => a.reduce((s, v) => s + v, 0);
    expect(ink(thick)).toBeGreaterThan(ink(plain) * 1.3);
    expect(soft.filter((v) => v > 0).length).toBeGreaterThan(plain.filter((v) => v > 0).length);
    for (const a of [thick, soft]) expect(a.every((v) => v >= 0 && v <= 1)).toBe(true);
  });
});

describe('toWhiteOnBlack', () => {
  it('inverts a light background and keeps a dark one', () => {
    const dark = sevenImage(28);
    const light = dark.map((v) => 1 - v);
    expect(toWhiteOnBlack(light, 28, 28)).toEqual(dark);
    expect(toWhiteOnBlack(dark, 28, 28)).toEqual(dark);
  });

  it('lifts a grey background off the ink', () => {
    const grey = sevenImage(28).map((v) => 0.2 + 0.8 * v);
    const out = toWhiteOnBlack(grey, 28, 28);
    expect(Math.max(...out)).toBeCloseTo(1, 5);
    expect(out[0]).toBe(0);
  });
});

describe('fromPixels', () => {
  const seven = sevenImage(28);

  it('accepts 0..255 and 0..1 and either polarity alike', () => {
    const unit = fromPixels(seven);
    expect(fromPixels(Array.from(seven, (v) => v * 255))).toEqual(unit);
    expect(fromPixels(Array.from(seven, (v) => 255 - v * 255))).toEqual(unit);
  });

  it('names the bad value', () => {
    expect(() => fromPixels([1, 2, 3])).toThrow(/pixels: expected 784 values/);
    const bad = Array.from(seven);
    bad[17] = Number.NaN;
    expect(() => fromPixels(bad)).toThrow(InvalidInputError);
    expect(() => fromPixels(bad)).toThrow(/pixels\[17\]/);
    bad[17] = 300;
    expect(() => fromPixels(bad)).toThrow(/pixels\[17\]/);
  });
});

describe('fromPng', () => {
  const size = 56;
  const seven = sevenImage(size);
  const expected = normalizeDigit(seven, size, size);
  const level = (v: number, max: number) => Math.round(v * max);
  const samples = (fn: (ink: number) => number[]) => Array.from(seven).flatMap(fn);

  const cases: [string, Parameters<typeof encodePng>[0]][] = [
    [
      'grey 8-bit',
      { width: size, height: size, colorType: 0, bitDepth: 8, samples: samples((v) => [level(v, 255)]) },
    ],
    [
      'grey 16-bit',
      { width: size, height: size, colorType: 0, bitDepth: 16, samples: samples((v) => [level(v, 65535)]) },
    ],
    [
      'grey 1-bit',
      { width: size, height: size, colorType: 0, bitDepth: 1, samples: samples((v) => [level(v, 1)]) },
    ],
    [
      'grey 4-bit',
      { width: size, height: size, colorType: 0, bitDepth: 4, samples: samples((v) => [level(v, 15)]) },
    ],
    [
      'RGB 8-bit',
      {
        width: size,
        height: size,
        colorType: 2,
        bitDepth: 8,
        samples: samples((v) => [level(v, 255), level(v, 255), level(v, 255)]),
      },
    ],
    [
      'RGB 16-bit',
      {
        width: size,
        height: size,
        colorType: 2,
        bitDepth: 16,
        samples: samples((v) => Array(3).fill(level(v, 65535))),
      },
    ],
    [
      'palette 2-bit',
      {
        width: size,
        height: size,
        colorType: 3,
        bitDepth: 2,
        samples: samples((v) => [v > 0 ? 1 : 0]),
        palette: [
          [0, 0, 0],
          [255, 255, 255],
        ],
      },
    ],
    [
      'grey+alpha 8-bit',
      { width: size, height: size, colorType: 4, bitDepth: 8, samples: samples((v) => [level(v, 255), 255]) },
    ],
    [
      'RGBA 8-bit',
      {
        width: size,
        height: size,
        colorType: 6,
        bitDepth: 8,
        samples: samples((v) => [level(v, 255), level(v, 255), level(v, 255), 255]),
      },
    ],
    [
      'RGBA 16-bit',
      {
        width: size,
        height: size,
        colorType: 6,
        bitDepth: 16,
        samples: samples((v) => [...Array(3).fill(level(v, 65535)), 65535]),
      },
    ],
    [
      'black ink on white',
      {
        width: size,
        height: size,
        colorType: 2,
        bitDepth: 8,
        samples: samples((v) => Array(3).fill(255 - level(v, 255))),
      },
    ],
    [
      'black ink on a transparent background (canvas export)',
      {
        width: size,
        height: size,
        colorType: 6,
        bitDepth: 8,
        samples: samples((v) => [0, 0, 0, level(v, 255)]),
      },
    ],
    [
      'white ink on a transparent background',
      {
        width: size,
        height: size,
        colorType: 6,
        bitDepth: 8,
        samples: samples((v) => [255, 255, 255, level(v, 255)]),
      },
    ],
    [
      'blue ink on white',
      {
        width: size,
        height: size,
        colorType: 2,
        bitDepth: 8,
        samples: samples((v) => (v > 0 ? [0, 0, 200] : [255, 255, 255])),
      },
    ],
  ];

  it.each(cases)('%s gives the same digit as its pixels', (_name, png) => {
    expect(meanAbsDiff(fromPng(encodePng(png)), expected)).toBeLessThan(0.02);
  });

  it('handles any size, including non-square ones', () => {
    const w = 300;
    const h = 120;
    const img = Array.from({ length: w * h }, (_, i) => {
      const x = i % w;
      const y = Math.floor(i / w);
      return x >= 140 && x < 152 && y >= 10 && y < 110 ? 255 : 0;
    });
    const out = fromPng(encodePng({ width: w, height: h, colorType: 0, bitDepth: 8, samples: img }));
    expect(box(out).height).toBe(20);
  });

  it('refuses what is not a PNG, a corrupt PNG and an oversized one, naming the image', () => {
    expect(() => fromPng(Buffer.from('hello, world, this is not a png'))).toThrow(/image: not a PNG/);
    const good = encodePng({
      width: 4,
      height: 4,
      colorType: 0,
      bitDepth: 8,
      samples: new Array(16).fill(0),
    });
    const corrupt = Buffer.from(good);
    corrupt.fill(7, 40, 50);
    expect(() => fromPng(corrupt)).toThrow(InvalidInputError);
    const huge = Buffer.from(good);
    huge.writeUInt32BE(100_000, 16);
    huge.writeUInt32BE(100_000, 20);
    expect(() => fromPng(huge)).toThrow(/image: 100000x100000/);
  });
});

describe('fromStrokes', () => {
  it('draws a vertical stroke as a narrow upright digit, centred like MNIST', () => {
    const out = fromStrokes(
      [
        [
          { x: 140, y: 40 },
          { x: 142, y: 240 },
        ],
      ],
      280,
      280,
    );
    const b = box(out);
    expect(b.height).toBeGreaterThanOrEqual(19);
    expect(b.width).toBeLessThan(8);
    const com = centreOfMass(out, SIZE, SIZE);
    expect(Math.abs(com.x - 14.5)).toBeLessThanOrEqual(0.75);
    expect(Math.max(...out)).toBeCloseTo(1, 2);
  });

  it('gives the same digit wherever and however large it is drawn', () => {
    const seven = (ox: number, oy: number, s: number) => [
      [
        { x: ox, y: oy },
        { x: ox + s, y: oy },
        { x: ox + s * 0.4, y: oy + s * 1.4 },
      ],
    ];
    const big = fromStrokes(seven(20, 20, 150), 280, 280);
    const small = fromStrokes(seven(200, 150, 40), 280, 280);
    expect(meanAbsDiff(big, small)).toBeLessThan(0.01);
  });

  it('returns black for no strokes and draws a dot for a single point', () => {
    expect(fromStrokes([], 280, 280).every((v) => v === 0)).toBe(true);
    expect(fromStrokes([[]], 280, 280).every((v) => v === 0)).toBe(true);
    expect(Math.max(...fromStrokes([[{ x: 5, y: 5 }]], 280, 280))).toBeGreaterThan(0.5);
  });

  it('names a bad point or canvas size', () => {
    expect(() => fromStrokes([[{ x: 1, y: 1 }], [{ x: 1, y: Number.NaN }]], 280, 280)).toThrow(
      /strokes\[1\]\[0\]/,
    );
    expect(() => fromStrokes([], 0, 280)).toThrow(/width/);
    expect(() => fromStrokes([], 280, -1)).toThrow(/height/);
  });

  it('always produces 784 values in 0..1 (property)', () => {
    const point = fc.record({
      x: fc.double({ min: -50, max: 350, noNaN: true }),
      y: fc.double({ min: -50, max: 350, noNaN: true }),
    });
    fc.assert(
      fc.property(fc.array(fc.array(point, { maxLength: 8 }), { maxLength: 4 }), (strokes) => {
        const out = fromStrokes(strokes, 280, 280);
        return out.length === PIXELS && out.every((v) => v >= 0 && v <= 1);
      }),
      { numRuns: 200 },
    );
  });
});
