/**
 * IDX files (the format MNIST ships in), plain or gzipped, and the committed `mnist-test` dataset.
 *
 * Only the unsigned-byte element type (0x08) is supported: it is the only one MNIST uses, and a
 * reader that silently accepted the others would hand back garbage pixels.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

export type IdxErrorCode = 'idx_invalid' | 'dataset_invalid';

export class IdxError extends Error {
  constructor(
    readonly code: IdxErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'IdxError';
  }
}

export interface Idx {
  dims: number[];
  /** The elements, row-major. */
  data: Uint8Array;
}

export interface IdxImages {
  /** count*rows*cols bytes, row-major, 0..255 (MNIST: white digit on black). */
  images: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

export interface IdxLabels {
  labels: Uint8Array;
  count: number;
}

export interface MnistTest {
  /** count*784 bytes, 28x28 row-major per image, 0..255, white digit on black. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

const UNSIGNED_BYTE = 0x08;
const TYPE_NAMES: Record<number, string> = {
  9: 'signed byte',
  11: 'short',
  12: 'int',
  13: 'float',
  14: 'double',
};
/** Bounds gunzip output so a hostile .gz (e.g. from a ConfigMap) cannot exhaust memory. */
export const MAX_IDX_BYTES = 256 * 1024 * 1024;

function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

function gunzip(buf: Uint8Array, maxBytes: number): Uint8Array {
  try {
    return gunzipSync(buf, { maxOutputLength: maxBytes });
  } catch (error) {
    const reason = (error as Error).message;
    throw new IdxError('idx_invalid', `gzip: cannot decompress (${reason})`);
  }
}

/** Parses an IDX file of unsigned bytes; gzipped input (magic 1f 8b) is decompressed first. */
export function readIdx(input: Uint8Array, maxBytes = MAX_IDX_BYTES): Idx {
  const gzipped = isGzip(input);
  const buf = gzipped ? gunzip(input, maxBytes) : input;
  if (buf.length < 4) {
    throw new IdxError('idx_invalid', `IDX header: need at least 4 bytes, got ${buf.length}`);
  }
  if (buf[0] !== 0 || buf[1] !== 0) {
    throw new IdxError('idx_invalid', 'IDX header: magic must start with two zero bytes (not an IDX file?)');
  }
  const type = buf[2]!;
  if (type !== UNSIGNED_BYTE) {
    const name = TYPE_NAMES[type] ?? 'unknown';
    throw new IdxError(
      'idx_invalid',
      `IDX header: element type 0x${type.toString(16).padStart(2, '0')} (${name}) is not supported, only 0x08 (unsigned byte)`,
    );
  }
  const ndim = buf[3]!;
  if (ndim === 0) throw new IdxError('idx_invalid', 'IDX header: zero dimensions');
  const headerBytes = 4 + 4 * ndim;
  if (buf.length < headerBytes) {
    throw new IdxError(
      'idx_invalid',
      `IDX header: ${ndim} dimensions need ${headerBytes} header bytes, file has ${buf.length}`,
    );
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims: number[] = [];
  let size = 1;
  for (let i = 0; i < ndim; i++) {
    const dim = view.getUint32(4 + 4 * i, false);
    dims.push(dim);
    size *= dim;
  }
  const dataBytes = buf.length - headerBytes;
  if (dataBytes !== size) {
    const what = dataBytes < size ? 'truncated' : 'trailing bytes';
    throw new IdxError(
      'idx_invalid',
      `IDX data: dimensions ${dims.join('x')} need ${size} bytes, file has ${dataBytes} (${what})`,
    );
  }
  // Freshly gunzipped bytes are ours to view; a caller's buffer is copied so later writes to it
  // cannot change the parsed data.
  const data = gzipped
    ? new Uint8Array(buf.buffer, buf.byteOffset + headerBytes, size)
    : new Uint8Array(buf.subarray(headerBytes));
  return { dims, data };
}

/** An idx3-ubyte file: count x rows x cols images. */
export function readIdxImages(input: Uint8Array, maxBytes = MAX_IDX_BYTES): IdxImages {
  const { dims, data } = readIdx(input, maxBytes);
  if (dims.length !== 3) {
    throw new IdxError(
      'idx_invalid',
      `IDX images: expected 3 dimensions (count, rows, cols), got ${dims.length}`,
    );
  }
  const [count, rows, cols] = dims as [number, number, number];
  return { images: data, count, rows, cols };
}

/** An idx1-ubyte file: one label byte per item. */
export function readIdxLabels(input: Uint8Array, maxBytes = MAX_IDX_BYTES): IdxLabels {
  const { dims, data } = readIdx(input, maxBytes);
  if (dims.length !== 1) {
    throw new IdxError('idx_invalid', `IDX labels: expected 1 dimension (count), got ${dims.length}`);
  }
  return { labels: data, count: dims[0]! };
}

/** The package root (where package.json is), found from this file so cwd does not matter. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'datasets'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new IdxError('dataset_invalid', 'cannot find the package root (datasets/)');
    dir = parent;
  }
}

/** Directory of the committed MNIST test set. */
export function mnistTestDir(): string {
  return join(packageRoot(), 'datasets', 'mnist-test');
}

export const MNIST_TEST_FILES = {
  images: 't10k-images-idx3-ubyte.gz',
  labels: 't10k-labels-idx1-ubyte.gz',
} as const;

/** The 10,000 MNIST test digits and their labels, from `datasets/mnist-test/`. */
export async function loadMnistTest(dir: string = mnistTestDir()): Promise<MnistTest> {
  const [imageBytes, labelBytes] = await Promise.all([
    readFile(join(dir, MNIST_TEST_FILES.images)),
    readFile(join(dir, MNIST_TEST_FILES.labels)),
  ]);
  const images = readIdxImages(imageBytes);
  const labels = readIdxLabels(labelBytes);
  return checkMnist(images, labels);
}

/** Checks that images and labels form one MNIST-shaped labelled set. */
export function checkMnist(images: IdxImages, labels: IdxLabels): MnistTest {
  if (images.rows !== 28 || images.cols !== 28) {
    throw new IdxError('dataset_invalid', `MNIST images must be 28x28, got ${images.rows}x${images.cols}`);
  }
  if (images.count !== labels.count) {
    throw new IdxError('dataset_invalid', `${images.count} images but ${labels.count} labels`);
  }
  const bad = labels.labels.findIndex((label) => label > 9);
  if (bad >= 0) {
    throw new IdxError('dataset_invalid', `label ${bad} is ${labels.labels[bad]}, expected a digit 0-9`);
  }
  return { images: images.images, labels: labels.labels, count: images.count };
}
