import { InvalidInputError } from '../errors.ts';
import { normalizeDigit } from './normalize.ts';

export interface Point {
  x: number;
  y: number;
}

export interface StrokeOptions {
  /** Pen width as a fraction of the digit's larger extent (MNIST strokes are ~1/8 of the box). */
  penWidth?: number;
  /** Extra dilation (pixels, 28x28 space) after normalising; default 0. */
  dilate?: number;
  /** Gaussian blur sigma (pixels, 28x28 space) after normalising; MNIST edges are soft. */
  blur?: number;
}

export const defaultStrokeOptions = { penWidth: 0.13, dilate: 0, blur: 0.5 } as const;

/** Rasterisation resolution: the digit's larger side spans this many pixels before normalising. */
const RASTER = 80;

/**
 * Strokes drawn on a `width x height` canvas (polylines in canvas coordinates, y down) rasterised
 * white on black with an anti-aliased round pen, then MNIST-normalised. The pen width is relative
 * to the digit's size, so a small digit drawn on a big canvas looks like a large one (MNIST digits
 * were size-normalised too). Empty strokes give an all-black image.
 */
export function fromStrokes(
  strokes: readonly (readonly Point[])[],
  width: number,
  height: number,
  options: StrokeOptions = {},
): Float32Array {
  if (!(Number.isFinite(width) && width > 0)) throw new InvalidInputError('width: must be a positive number');
  if (!(Number.isFinite(height) && height > 0))
    throw new InvalidInputError('height: must be a positive number');
  const penWidth = options.penWidth ?? defaultStrokeOptions.penWidth;
  let minX = Number.POSITIVE_INFINITY;
  let minY = Number.POSITIVE_INFINITY;
  let maxX = Number.NEGATIVE_INFINITY;
  let maxY = Number.NEGATIVE_INFINITY;
  strokes.forEach((stroke, s) => {
    stroke.forEach((p, i) => {
      if (!Number.isFinite(p?.x) || !Number.isFinite(p?.y)) {
        throw new InvalidInputError(`strokes[${s}][${i}]: x and y must be finite numbers`);
      }
      // Points outside the canvas are clipped to it, as a canvas would.
      const x = Math.min(width, Math.max(0, p.x));
      const y = Math.min(height, Math.max(0, p.y));
      minX = Math.min(minX, x);
      maxX = Math.max(maxX, x);
      minY = Math.min(minY, y);
      maxY = Math.max(maxY, y);
    });
  });
  if (minX > maxX) return normalizeDigit(new Float32Array(1), 1, 1);

  // A dot or a tiny scribble still gets a pen of sensible size relative to the canvas.
  const extent = Math.max(maxX - minX, maxY - minY, Math.max(width, height) * 0.02);
  const radius = (penWidth * extent) / 2;
  const scale = RASTER / (extent + 2 * radius);
  const rasterWidth = Math.ceil((maxX - minX + 2 * radius) * scale) + 2;
  const rasterHeight = Math.ceil((maxY - minY + 2 * radius) * scale) + 2;
  const ink = new Float32Array(rasterWidth * rasterHeight);
  const toRaster = (p: Point): Point => ({
    x: (Math.min(width, Math.max(0, p.x)) - minX + radius) * scale + 1,
    y: (Math.min(height, Math.max(0, p.y)) - minY + radius) * scale + 1,
  });
  const r = radius * scale;
  for (const stroke of strokes) {
    const points = stroke.map(toRaster);
    if (points.length === 1) drawSegment(ink, rasterWidth, rasterHeight, points[0]!, points[0]!, r);
    for (let i = 1; i < points.length; i++)
      drawSegment(ink, rasterWidth, rasterHeight, points[i - 1]!, points[i]!, r);
  }
  return normalizeDigit(ink, rasterWidth, rasterHeight, {
    dilate: options.dilate ?? defaultStrokeOptions.dilate,
    blur: options.blur ?? defaultStrokeOptions.blur,
  });
}

/**
 * A round-capped segment of radius `r`, anti-aliased over one pixel; ink only ever increases.
 * Only pixels that can be within `r + 0.5` of the segment are visited: on each row, the part of the
 * segment inside the band of rows `r + 0.5` around it, widened by `r + 0.5`; so a long diagonal
 * costs its length times the pen width, not its bounding box.
 */
function drawSegment(ink: Float32Array, w: number, h: number, a: Point, b: Point, r: number): void {
  const reach = r + 0.5;
  const x0 = Math.max(0, Math.floor(Math.min(a.x, b.x) - r - 1));
  const x1 = Math.min(w - 1, Math.ceil(Math.max(a.x, b.x) + r + 1));
  const y0 = Math.max(0, Math.floor(Math.min(a.y, b.y) - r - 1));
  const y1 = Math.min(h - 1, Math.ceil(Math.max(a.y, b.y) + r + 1));
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const lengthSquared = dx * dx + dy * dy;
  for (let y = y0; y <= y1; y++) {
    const py = y + 0.5;
    let from = 0;
    let to = 1;
    if (dy !== 0) {
      const t1 = (py - reach - a.y) / dy;
      const t2 = (py + reach - a.y) / dy;
      from = Math.max(0, Math.min(t1, t2));
      to = Math.min(1, Math.max(t1, t2));
      if (from > to) continue;
    } else if (Math.abs(py - a.y) > reach) continue;
    const xa = a.x + from * dx;
    const xb = a.x + to * dx;
    const start = Math.max(x0, Math.floor(Math.min(xa, xb) - reach - 1));
    const end = Math.min(x1, Math.ceil(Math.max(xa, xb) + reach + 1));
    for (let x = start; x <= end; x++) {
      const px = x + 0.5;
      const t =
        lengthSquared > 0 ? Math.min(1, Math.max(0, ((px - a.x) * dx + (py - a.y) * dy) / lengthSquared)) : 0;
      const ex = px - (a.x + t * dx);
      const ey = py - (a.y + t * dy);
      const coverage = Math.min(1, Math.max(0, reach - Math.sqrt(ex * ex + ey * ey)));
      const i = y * w + x;
      if (coverage > ink[i]!) ink[i] = coverage;
    }
  }
}
