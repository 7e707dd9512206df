import { deflateSync } from 'node:zlib';

/**
 * A minimal PNG encoder for tests, written from the PNG spec so the decoder is checked against
 * files it did not write itself: every colour type (0 grey, 2 RGB, 3 palette, 4 grey+alpha,
 * 6 RGBA) and bit depth (1, 2, 4, 8, 16). `samples` holds each pixel's channels at the bit depth's
 * scale (palette: the index).
 */
export function encodePng(options: {
  width: number;
  height: number;
  colorType: 0 | 2 | 3 | 4 | 6;
  bitDepth: 1 | 2 | 4 | 8 | 16;
  samples: ArrayLike<number>;
  palette?: [number, number, number][];
}): Buffer {
  const { width, height, colorType, bitDepth, samples, palette } = options;
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colorType];
  const rowBits = width * channels * bitDepth;
  const rowBytes = Math.ceil(rowBits / 8);
  const raw = Buffer.alloc(height * (rowBytes + 1));
  for (let y = 0; y < height; y++) {
    const row = y * (rowBytes + 1) + 1; // filter byte 0 (None) precedes each row
    for (let i = 0; i < width * channels; i++) {
      const value = samples[y * width * channels + i]!;
      if (bitDepth === 16) raw.writeUInt16BE(value, row + i * 2);
      else if (bitDepth === 8) raw[row + i] = value;
      else {
        const bit = i * bitDepth;
        raw[row + (bit >> 3)]! |= value << (8 - bitDepth - (bit & 7));
      }
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colorType;
  const chunks = [chunk('IHDR', ihdr)];
  if (palette) chunks.push(chunk('PLTE', Buffer.from(palette.flat())));
  chunks.push(chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0)));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ...chunks]);
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

const table = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const byte of data) c = table[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A `size x size` test digit, white on black, 0..1: a thick "7" (bar on top, diagonal down). */
export function sevenImage(size: number): Float32Array {
  const img = new Float32Array(size * size);
  const t = Math.max(1, Math.round(size / 10));
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const top = y >= size * 0.2 && y < size * 0.2 + t && x >= size * 0.25 && x < size * 0.75;
      const lineX = size * 0.75 - ((y - size * 0.2) / (size * 0.6)) * size * 0.3;
      const diagonal = y >= size * 0.2 && y < size * 0.8 && Math.abs(x - lineX) < t / 2 + 0.5;
      if (top || diagonal) img[y * size + x] = 1;
    }
  }
  return img;
}
