import { InvalidInputError } from '../errors.ts';
import { normalizeDigit, PIXELS, SIZE, toWhiteOnBlack } from './normalize.ts';

/**
 * 784 row-major pixels of a 28x28 image, 0..255 or 0..1 (decided by the largest value), either
 * polarity. Throws InvalidInputError naming the bad index.
 */
export function fromPixels(pixels: ArrayLike<number>): Float32Array {
  if (pixels.length !== PIXELS) {
    throw new InvalidInputError(`pixels: expected ${PIXELS} values (28x28), got ${pixels.length}`);
  }
  let max = 0;
  for (let i = 0; i < PIXELS; i++) {
    const v = pixels[i];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 255) {
      throw new InvalidInputError(`pixels[${i}]: expected a number between 0 and 255, got ${String(v)}`);
    }
    if (v > max) max = v;
  }
  const scale = max > 1 ? 1 / 255 : 1;
  const gray = new Float32Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) gray[i] = pixels[i]! * scale;
  return normalizeDigit(toWhiteOnBlack(gray, SIZE, SIZE), SIZE, SIZE);
}
