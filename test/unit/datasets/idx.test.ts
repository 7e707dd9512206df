import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { checkMnist, IdxError, readIdx, readIdxImages, readIdxLabels } from '../../../src/datasets/idx.ts';

/** A hand-made IDX file: magic 00 00 <type> <ndim>, big-endian u32 dims, then the bytes. */
function idx(dims: number[], data: number[], type = 0x08): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = type;
  header[3] = dims.length;
  for (const [i, dim] of dims.entries()) header.writeUInt32BE(dim, 4 + 4 * i);
  return Buffer.concat([header, Buffer.from(data)]);
}

function expectIdxError(fn: () => unknown, message: RegExp): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(IdxError);
    expect((error as IdxError).code).toBe('idx_invalid');
    expect((error as Error).message).toMatch(message);
    return;
  }
  expect.fail('expected an IdxError');
}

describe('readIdxImages', () => {
  it('parses count, rows, cols and row-major pixels', () => {
    const pixels = [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255];
    const parsed = readIdxImages(idx([2, 2, 3], pixels));
    expect(parsed).toMatchObject({ count: 2, rows: 2, cols: 3 });
    expect(Array.from(parsed.images)).toEqual(pixels);
  });

  it('reads big-endian dimensions above 255', () => {
    const parsed = readIdxImages(idx([1, 1, 300], new Array(300).fill(7)));
    expect(parsed.cols).toBe(300);
    expect(parsed.images.length).toBe(300);
  });

  it('gunzips gzipped input and gives the same result', () => {
    const raw = idx([3, 2, 2], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2]);
    expect(readIdxImages(gzipSync(raw))).toEqual(readIdxImages(raw));
  });

  it('copies a plain buffer so later writes to it do not change the result', () => {
    const raw = idx([1, 1, 2], [10, 20]);
    const parsed = readIdxImages(raw);
    raw[raw.length - 1] = 99;
    expect(Array.from(parsed.images)).toEqual([10, 20]);
  });

  it('rejects labels passed as images', () => {
    expectIdxError(() => readIdxImages(idx([2], [1, 2])), /expected 3 dimensions .* got 1/);
  });
});

describe('readIdxLabels', () => {
  it('parses labels', () => {
    const parsed = readIdxLabels(idx([5], [7, 2, 1, 0, 4]));
    expect(parsed.count).toBe(5);
    expect(Array.from(parsed.labels)).toEqual([7, 2, 1, 0, 4]);
  });

  it('rejects images passed as labels', () => {
    expectIdxError(() => readIdxLabels(idx([1, 1, 1], [1])), /expected 1 dimension .* got 3/);
  });
});

describe('malformed IDX', () => {
  it('rejects a file shorter than the magic number', () => {
    expectIdxError(() => readIdx(Buffer.from([0, 0, 8])), /at least 4 bytes, got 3/);
  });

  it('rejects a magic number that does not start with two zero bytes', () => {
    expectIdxError(() => readIdx(Buffer.from('PNG image data here')), /two zero bytes/);
  });

  it('rejects element types other than unsigned byte, naming the type', () => {
    expectIdxError(() => readIdx(idx([1], [0, 0, 0, 0], 0x0d)), /0x0d \(float\) is not supported/);
  });

  it('rejects zero dimensions', () => {
    expectIdxError(() => readIdx(Buffer.from([0, 0, 8, 0])), /zero dimensions/);
  });

  it('rejects a header cut short inside the dimensions', () => {
    expectIdxError(
      () => readIdx(Buffer.from([0, 0, 8, 3, 0, 0, 0, 1, 0, 0])),
      /need 16 header bytes, file has 10/,
    );
  });

  it('rejects truncated data', () => {
    expectIdxError(() => readIdx(idx([2, 2, 2], [1, 2, 3])), /2x2x2 need 8 bytes, file has 3 \(truncated\)/);
  });

  it('rejects trailing bytes', () => {
    expectIdxError(() => readIdx(idx([2], [1, 2, 3])), /need 2 bytes, file has 3 \(trailing bytes\)/);
  });

  it('rejects corrupt gzip', () => {
    const gz = gzipSync(idx([4], [1, 2, 3, 4]));
    const corrupt = Buffer.concat([gz.subarray(0, 12), Buffer.alloc(8, 0xff)]);
    expectIdxError(() => readIdx(corrupt), /^gzip: cannot decompress/);
  });

  it('bounds gunzip output', () => {
    const gz = gzipSync(idx([1, 100, 100], new Array(10_000).fill(0)));
    expectIdxError(() => readIdx(gz, 1000), /^gzip: cannot decompress/);
  });
});

describe('checkMnist', () => {
  const images = (count: number, side = 28) =>
    readIdxImages(idx([count, side, side], new Array(count * side * side).fill(0)));
  const labels = (values: number[]) => readIdxLabels(idx([values.length], values));

  it('accepts matching 28x28 images and digit labels', () => {
    const set = checkMnist(images(2), labels([3, 9]));
    expect(set.count).toBe(2);
    expect(set.images.length).toBe(2 * 784);
  });

  it('rejects a count mismatch', () => {
    expect(() => checkMnist(images(2), labels([1]))).toThrow(/2 images but 1 labels/);
  });

  it('rejects images that are not 28x28', () => {
    expect(() => checkMnist(images(1, 27), labels([1]))).toThrow(/must be 28x28, got 27x27/);
  });

  it('rejects a label that is not a digit', () => {
    expect(() => checkMnist(images(2), labels([1, 10]))).toThrow(/label 1 is 10/);
  });
});
