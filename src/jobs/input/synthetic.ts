import type { LoadedInput } from './types.ts';

type Point = readonly [number, number];
type Stroke = readonly Point[];

/** An ellipse as a closed polyline, in the glyph's unit box (x right, y down). */
function ellipse(cx: number, cy: number, rx: number, ry: number, steps = 20): Stroke {
  return Array.from({ length: steps + 1 }, (_, i) => {
    const a = (i / steps) * 2 * Math.PI;
    return [cx + rx * Math.sin(a), cy - ry * Math.cos(a)] as const;
  });
}

/** Each digit drawn as pen strokes in a unit box: a plain handwriting-like skeleton. */
const GLYPHS: readonly (readonly Stroke[])[] = [
  [ellipse(0.5, 0.5, 0.3, 0.46)],
  [
    [
      [0.32, 0.18],
      [0.55, 0],
    ],
    [
      [0.55, 0],
      [0.55, 1],
    ],
  ],
  [
    [
      [0.22, 0.25],
      [0.35, 0.06],
      [0.55, 0],
      [0.74, 0.1],
      [0.76, 0.3],
      [0.6, 0.55],
      [0.22, 1],
      [0.8, 1],
    ],
  ],
  [
    [
      [0.24, 0.1],
      [0.5, 0],
      [0.74, 0.12],
      [0.72, 0.34],
      [0.45, 0.48],
      [0.74, 0.6],
      [0.78, 0.82],
      [0.55, 1],
      [0.22, 0.92],
    ],
  ],
  [
    [
      [0.66, 1],
      [0.66, 0],
      [0.16, 0.68],
      [0.86, 0.68],
    ],
  ],
  [
    [
      [0.78, 0],
      [0.3, 0],
      [0.25, 0.45],
      [0.55, 0.38],
      [0.77, 0.52],
      [0.78, 0.8],
      [0.55, 1],
      [0.22, 0.93],
    ],
  ],
  [
    [
      [0.72, 0.02],
      [0.45, 0.2],
      [0.27, 0.5],
      [0.25, 0.76],
      [0.4, 0.98],
      [0.62, 0.98],
      [0.76, 0.8],
      [0.72, 0.6],
      [0.54, 0.5],
      [0.36, 0.53],
      [0.26, 0.68],
    ],
  ],
  [
    [
      [0.18, 0],
      [0.82, 0],
      [0.42, 1],
    ],
  ],
  [ellipse(0.5, 0.25, 0.22, 0.24), ellipse(0.5, 0.73, 0.27, 0.27)],
  [
    ellipse(0.48, 0.3, 0.25, 0.28),
    [
      [0.73, 0.3],
      [0.7, 1],
    ],
  ],
];

/** mulberry32: a tiny deterministic PRNG, good enough for jitter. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function distanceToSegment(px: number, py: number, a: Point, b: Point): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const length2 = dx * dx + dy * dy;
  const t = length2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - a[0]) * dx + (py - a[1]) * dy) / length2));
  return Math.hypot(px - (a[0] + t * dx), py - (a[1] + t * dy));
}

/**
 * Renders digit `label` into `out` (784 uint8, white on black, MNIST layout: the glyph in the
 * central 20x20 box), with a slant, size, stroke width and offset drawn from `random`.
 */
export function renderDigit(label: number, random: () => number, out: Uint8Array): void {
  const height = 17 + random() * 3;
  const slant = (random() - 0.5) * 0.5;
  const widthScale = 0.85 + random() * 0.3;
  const radius = 1.0 + random() * 0.7;
  const cx = 14 + (random() - 0.5) * 2;
  const cy = 14 + (random() - 0.5) * 2;
  const strokes = GLYPHS[label]!.map((stroke) =>
    stroke.map(([x, y]) => {
      const jx = (random() - 0.5) * 0.04;
      const jy = (random() - 0.5) * 0.04;
      const u = (x + jx - 0.5) * height * widthScale;
      const v = (y + jy - 0.5) * height;
      return [cx + u - slant * v, cy + v] as const;
    }),
  );
  // Distance to the nearest stroke, computed only in each segment's neighbourhood.
  const distance = new Float32Array(784).fill(Number.POSITIVE_INFINITY);
  const reach = radius + 1;
  for (const stroke of strokes) {
    for (let k = 1; k < stroke.length; k++) {
      const a = stroke[k - 1]!;
      const b = stroke[k]!;
      const x0 = Math.max(0, Math.floor(Math.min(a[0], b[0]) - reach));
      const x1 = Math.min(27, Math.ceil(Math.max(a[0], b[0]) + reach));
      const y0 = Math.max(0, Math.floor(Math.min(a[1], b[1]) - reach));
      const y1 = Math.min(27, Math.ceil(Math.max(a[1], b[1]) + reach));
      for (let y = y0; y <= y1; y++) {
        for (let x = x0; x <= x1; x++) {
          const d = distanceToSegment(x + 0.5, y + 0.5, a, b);
          if (d < distance[y * 28 + x]!) distance[y * 28 + x] = d;
        }
      }
    }
  }
  for (let i = 0; i < 784; i++) {
    out[i] = Math.round(Math.max(0, Math.min(1, radius + 0.5 - distance[i]!)) * 255);
  }
}

const generatorFor = (seed: number, i: number): (() => number) =>
  prng((Math.imul(seed, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0);

/**
 * `count` digits from `seed`, rendered when read: image i depends only on (seed, i), so a larger
 * count extends a smaller one and a million-digit job holds only its labels in memory.
 */
export function syntheticDigits(count: number, seed: number): LoadedInput {
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = Math.floor(generatorFor(seed, i)() * 10);
  return {
    count,
    labels,
    read: (start, n) => {
      const size = Math.max(0, Math.min(n, count - start));
      const out = new Uint8Array(size * 784);
      for (let j = 0; j < size; j++) {
        const random = generatorFor(seed, start + j);
        const label = Math.floor(random() * 10);
        renderDigit(label, random, out.subarray(j * 784, (j + 1) * 784));
      }
      return out;
    },
  };
}
