/**
 * Digits as a person draws them on the demo page's 280x280 canvas: polylines in canvas
 * coordinates (y down), about 190 px tall, one entry per digit 0-9. Shapes are plain: the aim is
 * to check that canvas input, after the runtime's preprocessing, lands where the model expects.
 */
export type Stroke = { x: number; y: number }[];

const arc = (cx: number, cy: number, rx: number, ry: number, from: number, to: number, steps = 24): Stroke =>
  Array.from({ length: steps + 1 }, (_, i) => {
    const t = ((from + ((to - from) * i) / steps) * Math.PI) / 180;
    return { x: cx + rx * Math.cos(t), y: cy + ry * Math.sin(t) };
  });
const line = (...points: [number, number][]): Stroke => points.map(([x, y]) => ({ x, y }));

export const canvasDigits: Stroke[][] = [
  [arc(140, 140, 62, 95, -90, 275)],
  [line([115, 75], [145, 45], [145, 235])],
  [[...arc(140, 100, 55, 55, 200, 360 + 20), ...line([90, 232], [200, 232])]],
  [[...arc(138, 92, 50, 47, 210, 360 + 90), ...arc(138, 185, 58, 50, -90, 145)]],
  [line([165, 235], [165, 45], [80, 170], [205, 170])],
  [[...line([192, 45], [100, 45], [92, 128]), ...arc(138, 178, 58, 57, -130, 150)]],
  [[...line([185, 50], [130, 80], [95, 140]), ...arc(140, 185, 48, 48, 180, 180 + 360)]],
  [line([82, 48], [200, 48], [118, 235])],
  [[...arc(140, 92, 45, 46, 90, 90 + 360), ...arc(140, 186, 54, 48, -90, 270)]],
  [[...arc(140, 95, 50, 50, 0, 360), ...line([190, 95], [180, 235])]],
];

/** A deterministic variation: rotation, slant, scale, shift and hand tremor, from `seed`. */
export function jitter(strokes: Stroke[], seed: number): Stroke[] {
  let state = seed >>> 0 || 1;
  const random = () => {
    // xorshift32: small, deterministic, good enough for test variations
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
  const between = (lo: number, hi: number) => lo + (hi - lo) * random();
  const angle = (between(-10, 10) * Math.PI) / 180;
  const shear = between(-0.15, 0.15);
  const scale = between(0.55, 1.1);
  const dx = between(-40, 40);
  const dy = between(-30, 30);
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  return strokes.map((stroke) =>
    stroke.map(({ x, y }) => {
      const u = (x - 140) * scale + between(-2, 2);
      const v = (y - 140) * scale + between(-2, 2);
      return { x: 140 + dx + cos * (u + shear * v) - sin * v, y: 140 + dy + sin * (u + shear * v) + cos * v };
    }),
  );
}
