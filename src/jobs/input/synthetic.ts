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
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      let d = Number.POSITIVE_INFINITY;
      for (const stroke of strokes) {
        for (let k = 1; k < stroke.length; k++)
          d = Math.min(d, distanceToSegment(x + 0.5, y + 0.5, stroke[k - 1]!, stroke[k]!));
      }
      const intensity = Math.max(0, Math.min(1, radius + 0.5 - d));
      out[y * 28 + x] = Math.round(intensity * 255);
    }
  }
}

/** `count` digits from `seed`: image i depends only on (seed, i), so a larger count extends a smaller one. */
export function syntheticDigits(count: number, seed: number): LoadedInput {
  const images = new Uint8Array(count * 784);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const random = prng((Math.imul(seed, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0);
    const label = Math.floor(random() * 10);
    labels[i] = label;
    renderDigit(label, random, images.subarray(i * 784, (i + 1) * 784));
  }
  return { images, labels, count };
}
