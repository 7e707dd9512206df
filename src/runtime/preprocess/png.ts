import { PNG } from 'pngjs';
import { InvalidInputError } from '../errors.ts';
import { normalizeDigit, toWhiteOnBlack } from './normalize.ts';

/** The default bound on decoded pixels (the runtime passes its `maxImagePixels`). */
export const MAX_PNG_PIXELS = 4096 * 4096;
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * A PNG of any size, colour type and bit depth (pngjs expands everything to 8-bit RGBA): turned
 * to grey, dark-on-light inverted, then MNIST-normalised. Throws InvalidInputError on a bad file.
 */
export function fromPng(png: Buffer, maxPixels = MAX_PNG_PIXELS): Float32Array {
  const { width, height, data } = decode(png, maxPixels);
  const n = width * height;
  const gray = new Float32Array(n);
  let transparent = false;
  for (let i = 0; i < n; i++) if (data[i * 4 + 3]! < 250) transparent = true;
  if (!transparent) {
    for (let i = 0; i < n; i++) gray[i] = luminance(data, i);
  } else {
    // Canvas exports often draw on a transparent background: the ink is wherever alpha is. Its
    // colour decides the backdrop it is composited on, so light ink lands on black and dark ink on
    // white (which the polarity check below then inverts).
    let inkSum = 0;
    let inkCount = 0;
    for (let i = 0; i < n; i++) {
      if (data[i * 4 + 3]! > 128) {
        inkSum += luminance(data, i);
        inkCount++;
      }
    }
    const backdrop = inkCount > 0 && inkSum / inkCount > 0.5 ? 0 : 1;
    for (let i = 0; i < n; i++) {
      const alpha = data[i * 4 + 3]! / 255;
      gray[i] = luminance(data, i) * alpha + backdrop * (1 - alpha);
    }
  }
  return normalizeDigit(toWhiteOnBlack(gray, width, height), width, height);
}

/** Width and height from a PNG's header, or undefined when it is not a PNG. */
export function pngDimensions(png: Buffer): { width: number; height: number } | undefined {
  if (png.length < 24 || !png.subarray(0, 8).equals(SIGNATURE)) return undefined;
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/** Larger images are refused before decoding (a small PNG can inflate to gigabytes). */
function decode(png: Buffer, maxPixels: number): PNG {
  const size = pngDimensions(png);
  if (!size) throw new InvalidInputError('image: not a PNG file');
  const { width, height } = size;
  if (width === 0 || height === 0 || width * height > maxPixels) {
    throw new InvalidInputError(
      `image: ${width}x${height} is outside 1..${maxPixels} pixels (maxImagePixels)`,
    );
  }
  try {
    return PNG.sync.read(png);
  } catch (error) {
    throw new InvalidInputError(`image: cannot decode PNG (${(error as Error).message})`);
  }
}

const luminance = (rgba: Buffer, i: number): number =>
  (0.299 * rgba[i * 4]! + 0.587 * rgba[i * 4 + 1]! + 0.114 * rgba[i * 4 + 2]!) / 255;
