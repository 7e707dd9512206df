import { z } from 'zod';
import type { InputFormat } from '../../api/inferencejob.ts';
import { readIdxImages } from '../../datasets/idx.ts';
import { fromPixels, fromPng } from '../../runtime/preprocess/index.ts';
import { JobFailure } from '../errors.ts';
import { arrayInput, type LoadedInput } from './types.ts';

const PIXELS = 784;

/** 784 floats in 0..1 (the runtime's preprocessing output) as uint8, into `out` at image `index`. */
function storeDigit(digit: Float32Array, out: Uint8Array, index: number): void {
  for (let k = 0; k < PIXELS; k++)
    out[index * PIXELS + k] = Math.round(Math.min(1, Math.max(0, digit[k]!)) * 255);
}

/** A PNG of any size, preprocessed the way the runtime does it for `POST /v1/predict`. */
function pngDigit(bytes: Buffer, field: string, out: Uint8Array, index: number): void {
  try {
    storeDigit(fromPng(bytes), out, index);
  } catch (error) {
    throw new JobFailure('input_invalid', `${field}: ${(error as Error).message}`);
  }
}

const NdjsonLine = z
  .object({
    pixels: z.array(z.number().min(0).max(255)).length(PIXELS).optional(),
    image: z.base64().min(1).optional(),
    label: z.number().int().min(0).max(9).optional(),
  })
  .refine((line) => (line.pixels === undefined) !== (line.image === undefined), {
    message: 'exactly one of pixels or image must be set',
  });

/** One JSON object per line: `{"pixels":[784]}` or `{"image":"<base64 PNG>"}`, optionally `"label"`. */
export function decodeNdjson(text: string, source: string): LoadedInput {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const images = new Uint8Array(lines.length * PIXELS);
  const labels = new Uint8Array(lines.length);
  let labelled = 0;
  lines.forEach((line, i) => {
    const where = `${source} line ${i + 1}`;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw new JobFailure('input_invalid', `${where}: not JSON`);
    }
    const parsed = NdjsonLine.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new JobFailure('input_invalid', `${where}: ${issue.path.join('.') || 'line'}: ${issue.message}`);
    }
    if (parsed.data.pixels) storeDigit(fromPixels(parsed.data.pixels), images, i);
    else pngDigit(Buffer.from(parsed.data.image!, 'base64'), `${where}: image`, images, i);
    if (parsed.data.label !== undefined) {
      labels[i] = parsed.data.label;
      labelled += 1;
    }
  });
  // Accuracy is only meaningful when every image has a label.
  return arrayInput(images, lines.length, labelled === lines.length && labelled > 0 ? labels : undefined);
}

/** IDX images (idx3-ubyte, optionally gzipped) of 28x28 digits, white on black as MNIST stores them. */
export function decodeIdx(bytes: Buffer, source: string): LoadedInput {
  let parsed: ReturnType<typeof readIdxImages>;
  try {
    parsed = readIdxImages(bytes);
  } catch (error) {
    throw new JobFailure('input_invalid', `${source}: ${(error as Error).message}`);
  }
  if (parsed.rows !== 28 || parsed.cols !== 28) {
    throw new JobFailure(
      'input_invalid',
      `${source}: images are ${parsed.rows}x${parsed.cols}, expected 28x28`,
    );
  }
  return arrayInput(parsed.images, parsed.count);
}

/** The bytes of a ConfigMap key (or a file) in one of the InferenceJob's input formats. */
export function decodeInput(bytes: Buffer, format: InputFormat, source: string): LoadedInput {
  switch (format) {
    case 'idx':
      return decodeIdx(bytes, source);
    case 'ndjson':
      return decodeNdjson(bytes.toString('utf8'), source);
    case 'png': {
      const images = new Uint8Array(PIXELS);
      pngDigit(bytes, source, images, 0);
      return arrayInput(images, 1);
    }
  }
}

/** `spec.input.inline.images`: base64 PNGs, each preprocessed like the runtime's `/v1/predict`. */
export function decodeInlineImages(encoded: readonly string[]): LoadedInput {
  const images = new Uint8Array(encoded.length * PIXELS);
  encoded.forEach((text, i) => {
    pngDigit(Buffer.from(text, 'base64'), `input.inline.images[${i}]`, images, i);
  });
  return arrayInput(images, encoded.length);
}
