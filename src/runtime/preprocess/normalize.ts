/**
 * MNIST-style normalisation, shared by every input path (pixels, PNG, strokes): the digit is cropped
 * to its bounding box, scaled into a 20x20 box keeping its aspect ratio (area-averaged when
 * shrinking, bilinear when growing), and placed in a 28x28 image so that its centre of mass sits in
 * the centre, the way the MNIST set itself was built. Pure functions on Float32Arrays.
 */
export const SIZE = 28;
export const PIXELS = SIZE * SIZE;
const BOX = 20;
const CENTRE = SIZE / 2 + 0.5;

export interface NormalizeOptions {
  /** Grow the ink by this many pixels (28x28 space, max filter) before blurring; default 0. */
  dilate?: number;
  /** Gaussian blur sigma in pixels (28x28 space); default 0 (none). */
  blur?: number;
}

/**
 * `ink` holds `width*height` values in 0..1, white (1) digit on black (0). Returns 784 values in
 * 0..1. An image without ink comes back all zero.
 */
export function normalizeDigit(
  ink: Float32Array,
  width: number,
  height: number,
  options: NormalizeOptions = {},
): Float32Array {
  const out = new Float32Array(PIXELS);
  const box = inkBoundingBox(ink, width, height);
  if (!box) return out;
  const cropWidth = box.right - box.left + 1;
  const cropHeight = box.bottom - box.top + 1;
  const scale = BOX / Math.max(cropWidth, cropHeight);
  const targetWidth = Math.max(1, Math.round(cropWidth * scale));
  const targetHeight = Math.max(1, Math.round(cropHeight * scale));
  const scaled = resample(ink, width, box, targetWidth, targetHeight);

  const { x: comX, y: comY } = centreOfMass(scaled, targetWidth, targetHeight);
  // MNIST digits have their centre of mass at 14.5 in these coordinates (pixel 14's centre).
  const offsetX = clamp(Math.round(CENTRE - comX), 0, SIZE - targetWidth);
  const offsetY = clamp(Math.round(CENTRE - comY), 0, SIZE - targetHeight);
  for (let y = 0; y < targetHeight; y++) {
    for (let x = 0; x < targetWidth; x++) {
      out[(y + offsetY) * SIZE + x + offsetX] = scaled[y * targetWidth + x]!;
    }
  }
  let result: Float32Array = out;
  if (options.dilate && options.dilate > 0) result = dilate(result, SIZE, SIZE, Math.round(options.dilate));
  if (options.blur && options.blur > 0) result = gaussianBlur(result, SIZE, SIZE, options.blur);
  return clampUnit(result);
}

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** Pixels fainter than 5% of the brightest are treated as background noise when cropping. */
export function inkBoundingBox(ink: Float32Array, width: number, height: number): Box | undefined {
  let max = 0;
  for (let i = 0; i < width * height; i++) if (ink[i]! > max) max = ink[i]!;
  if (max <= 1e-3) return undefined;
  const threshold = max * 0.05;
  let left = width;
  let top = height;
  let right = -1;
  let bottom = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x]! > threshold) {
        if (x < left) left = x;
        if (x > right) right = x;
        if (y < top) top = y;
        if (y > bottom) bottom = y;
      }
    }
  }
  return { left, top, right, bottom };
}

/** Resamples the `box` region of `src` (row stride `srcWidth`) to `dw x dh`. */
function resample(src: Float32Array, srcWidth: number, box: Box, dw: number, dh: number): Float32Array {
  const sw = box.right - box.left + 1;
  const sh = box.bottom - box.top + 1;
  const sx = sw / dw;
  const sy = sh / dh;
  const out = new Float32Array(dw * dh);
  const at = (x: number, y: number) => src[(box.top + y) * srcWidth + box.left + x]!;
  if (sx >= 1 && sy >= 1) {
    // Shrinking: each output pixel is the exact area average of the source pixels it covers.
    for (let dy = 0; dy < dh; dy++) {
      const y0 = dy * sy;
      const y1 = y0 + sy;
      for (let dx = 0; dx < dw; dx++) {
        const x0 = dx * sx;
        const x1 = x0 + sx;
        let sum = 0;
        for (let y = Math.floor(y0); y < Math.min(sh, Math.ceil(y1)); y++) {
          const wy = Math.min(y + 1, y1) - Math.max(y, y0);
          for (let x = Math.floor(x0); x < Math.min(sw, Math.ceil(x1)); x++) {
            sum += wy * (Math.min(x + 1, x1) - Math.max(x, x0)) * at(x, y);
          }
        }
        out[dy * dw + dx] = sum / (sx * sy);
      }
    }
    return out;
  }
  // Growing (or mixed): bilinear interpolation between pixel centres.
  for (let dy = 0; dy < dh; dy++) {
    const fy = clamp((dy + 0.5) * sy - 0.5, 0, sh - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(sh - 1, y0 + 1);
    const ty = fy - y0;
    for (let dx = 0; dx < dw; dx++) {
      const fx = clamp((dx + 0.5) * sx - 0.5, 0, sw - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(sw - 1, x0 + 1);
      const tx = fx - x0;
      const top = at(x0, y0) * (1 - tx) + at(x1, y0) * tx;
      const bottom = at(x0, y1) * (1 - tx) + at(x1, y1) * tx;
      out[dy * dw + dx] = top * (1 - ty) + bottom * ty;
    }
  }
  return out;
}

/** Centre of mass in continuous coordinates (pixel i spans [i, i+1)). */
export function centreOfMass(img: Float32Array, width: number, height: number): { x: number; y: number } {
  let total = 0;
  let sx = 0;
  let sy = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = img[y * width + x]!;
      total += v;
      sx += v * (x + 0.5);
      sy += v * (y + 0.5);
    }
  }
  return total > 0 ? { x: sx / total, y: sy / total } : { x: width / 2, y: height / 2 };
}

export function dilate(img: Float32Array, width: number, height: number, radius: number): Float32Array {
  const out = new Float32Array(img.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let max = 0;
      for (let dy = -radius; dy <= radius; dy++) {
        for (let dx = -radius; dx <= radius; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy >= 0 && yy < height && xx >= 0 && xx < width && dx * dx + dy * dy <= radius * radius) {
            max = Math.max(max, img[yy * width + xx]!);
          }
        }
      }
      out[y * width + x] = max;
    }
  }
  return out;
}

/** Separable Gaussian blur, edges treated as black. */
export function gaussianBlur(img: Float32Array, width: number, height: number, sigma: number): Float32Array {
  const radius = Math.max(1, Math.ceil(sigma * 3));
  const kernel: number[] = [];
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const w = Math.exp(-(i * i) / (2 * sigma * sigma));
    kernel.push(w);
    sum += w;
  }
  for (let i = 0; i < kernel.length; i++) kernel[i]! /= sum;
  const pass = (src: Float32Array, horizontal: boolean) => {
    const out = new Float32Array(src.length);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let acc = 0;
        for (let k = -radius; k <= radius; k++) {
          const xx = horizontal ? x + k : x;
          const yy = horizontal ? y : y + k;
          if (xx >= 0 && xx < width && yy >= 0 && yy < height)
            acc += kernel[k + radius]! * src[yy * width + xx]!;
        }
        out[y * width + x] = acc;
      }
    }
    return out;
  };
  const blurred = pass(pass(img, true), false);
  // Keep the stroke as bright as before: blur softens edges, it should not dim the digit.
  let before = 0;
  let after = 0;
  for (let i = 0; i < img.length; i++) {
    before = Math.max(before, img[i]!);
    after = Math.max(after, blurred[i]!);
  }
  if (after > 0) for (let i = 0; i < blurred.length; i++) blurred[i] = (blurred[i]! * before) / after;
  return blurred;
}

/**
 * Dark-on-light images (a scan, a black pen on a white canvas) are inverted so the digit is white
 * on black. Decided by the border: a digit rarely touches it, so a bright border means a light
 * background. A grey background is subtracted. Returns a new array; `gray` is 0..1.
 */
export function toWhiteOnBlack(gray: Float32Array, width: number, height: number): Float32Array {
  const ring = Math.max(1, Math.round(Math.min(width, height) * 0.05));
  let sum = 0;
  let count = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (x < ring || y < ring || x >= width - ring || y >= height - ring) {
        sum += gray[y * width + x]!;
        count++;
      }
    }
  }
  const out = new Float32Array(gray);
  let background = count > 0 ? sum / count : 0;
  if (background > 0.5) {
    for (let i = 0; i < out.length; i++) out[i] = 1 - out[i]!;
    background = 1 - background;
  }
  // A grey background (paper, a photo) is lifted off so only the ink remains.
  if (background > 0.02 && background < 0.5) {
    for (let i = 0; i < out.length; i++) out[i] = Math.max(0, (out[i]! - background) / (1 - background));
  }
  return out;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

function clampUnit(img: Float32Array): Float32Array {
  for (let i = 0; i < img.length; i++) img[i] = clamp(img[i]!, 0, 1);
  return img;
}
