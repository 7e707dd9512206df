import { gzipSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import type { JobFailure } from '../../../src/jobs/errors.ts';
import { decodeInlineImages, decodeInput } from '../../../src/jobs/input/decode.ts';
import { loadInput } from '../../../src/jobs/input/load.ts';
import { syntheticDigits } from '../../../src/jobs/input/synthetic.ts';
import type { LoadedInput } from '../../../src/jobs/input/types.ts';
import { fromPixels } from '../../../src/runtime/preprocess/index.ts';

/** The runtime's MNIST normalisation of a 28x28 image, as uint8. */
const normalised = (image: Uint8Array): Uint8Array =>
  Uint8Array.from(fromPixels(image), (v) => Math.round(v * 255));

/** An IDX3 image file of `count` 28x28 images. */
function idx(images: Uint8Array, count: number): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt32BE(0x00000803, 0);
  header.writeUInt32BE(count, 4);
  header.writeUInt32BE(28, 8);
  header.writeUInt32BE(28, 12);
  return Buffer.concat([header, Buffer.from(images)]);
}

/** A black-on-white PNG of a digit image, twice the size, as a user would draw it. */
function png(image: Uint8Array): Buffer {
  const out = new PNG({ width: 56, height: 56 });
  for (let y = 0; y < 56; y++) {
    for (let x = 0; x < 56; x++) {
      const v = 255 - image[Math.floor(y / 2) * 28 + Math.floor(x / 2)]!;
      out.data.set([v, v, v, 255], (y * 56 + x) * 4);
    }
  }
  return PNG.sync.write(out);
}

const all = (input: LoadedInput): Uint8Array => input.read(0, input.count);

const failure = (fn: () => unknown): JobFailure => {
  try {
    fn();
  } catch (error) {
    return error as JobFailure;
  }
  throw new Error('expected a failure');
};

/** Ink mass and centre: what MNIST normalisation preserves. */
const similar = (a: Uint8Array, b: Uint8Array): number => {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < 784; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! ** 2;
    nb += b[i]! ** 2;
  }
  return dot / Math.sqrt(na * nb);
};

describe('input decoding', () => {
  const synthetic = syntheticDigits(3, 5);
  const digits = { images: synthetic.read(0, 3), labels: synthetic.labels };

  it('reads IDX images, gzipped or not', () => {
    for (const bytes of [idx(digits.images, 3), gzipSync(idx(digits.images, 3))]) {
      const input = decodeInput(bytes, 'idx', 'cm');
      expect(input.count).toBe(3);
      expect(Buffer.from(all(input)).equals(Buffer.from(digits.images))).toBe(true);
      expect(input.labels).toBeUndefined();
    }
  });

  it('names the source when the IDX is broken', () => {
    const error = failure(() => decodeInput(Buffer.from('nope'), 'idx', 'configMap d key k'));
    expect(error.code).toBe('input_invalid');
    expect(error.message).toMatch(/^configMap d key k: /);
  });

  it('reads NDJSON pixels and PNGs with labels, and names the bad line and field', () => {
    const lines = [
      JSON.stringify({ pixels: [...digits.images.subarray(0, 784)], label: digits.labels![0] }),
      JSON.stringify({
        image: png(digits.images.subarray(784, 1568)).toString('base64'),
        label: digits.labels![1],
      }),
    ].join('\n');
    const input = decodeInput(Buffer.from(`${lines}\n\n`), 'ndjson', 'cm');
    expect(input.count).toBe(2);
    expect([...input.labels!]).toEqual([digits.labels![0], digits.labels![1]]);
    expect(similar(all(input).subarray(0, 784), normalised(digits.images.subarray(0, 784)))).toBeGreaterThan(
      0.99,
    );
    expect(similar(all(input).subarray(784), normalised(digits.images.subarray(784, 1568)))).toBeGreaterThan(
      0.9,
    );
    const bad = failure(() => decodeInput(Buffer.from(`${lines}\n{"pixels":[1,2]}`), 'ndjson', 'cm'));
    expect(bad.message).toMatch(/cm line 3: pixels/);
    expect(failure(() => decodeInput(Buffer.from('{"label":3}'), 'ndjson', 'cm')).message).toMatch(
      /exactly one of pixels or image/,
    );
  });

  it('leaves labels out unless every line has one', () => {
    const lines = [
      JSON.stringify({ pixels: new Array(784).fill(0), label: 1 }),
      JSON.stringify({ pixels: new Array(784).fill(0) }),
    ];
    expect(decodeInput(Buffer.from(lines.join('\n')), 'ndjson', 'cm').labels).toBeUndefined();
  });

  it('decodes inline base64 PNGs and names the bad one', () => {
    const input = decodeInlineImages([png(digits.images.subarray(0, 784)).toString('base64')]);
    expect(input.count).toBe(1);
    expect(similar(all(input), normalised(digits.images.subarray(0, 784)))).toBeGreaterThan(0.9);
    const error = failure(() => decodeInlineImages([png(digits.images).toString('base64'), 'aGVsbG8=']));
    expect(error.message).toMatch(/^input\.inline\.images\[1\]: /);
  });

  it('loads synthetic digits and applies limit', async () => {
    const input = await loadInput({ synthetic: { count: 100, seed: 3 }, limit: 10 });
    expect(input.count).toBe(10);
    expect(input.labels).toHaveLength(10);
  });

  it('loads the mnist-test dataset with its labels', async () => {
    const input = await loadInput({ dataset: 'mnist-test', limit: 500 });
    expect(input.count).toBe(500);
    expect(all(input)).toHaveLength(500 * 784);
    expect(input.labels![0]).toBe(7);
  });

  it('reads a ConfigMap input from a file or through the API reader, and says why it cannot', async () => {
    const bytes = idx(digits.images, 3);
    const viaApi = await loadInput(
      { configMap: { name: 'cm', key: 'k', format: 'idx' } },
      { readConfigMap: async () => bytes },
    );
    expect(viaApi.count).toBe(3);
    const missing = (await loadInput(
      { configMap: { name: 'cm', key: 'k', format: 'idx' } },
      { inputFile: '/nonexistent/input' },
    ).catch((e: unknown) => e)) as JobFailure;
    expect(missing.code).toBe('input_unavailable');
    expect(missing.message).toMatch(/configMap cm key k/);
  });
});
