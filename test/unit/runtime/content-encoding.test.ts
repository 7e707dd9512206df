import { EventEmitter, once } from 'node:events';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeContentEncoding } from '../../../src/runtime/http/content-encoding.ts';

describe('decodeContentEncoding', () => {
  it('inflates a gzip body as it streams', async () => {
    const body = Buffer.from(JSON.stringify({ inputs: new Array(1000).fill(0.5) }));
    const decoded = decodeContentEncoding('gzip', Readable.from([gzipSync(body)]), new EventEmitter());
    const chunks: Buffer[] = [];
    for await (const chunk of decoded) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(body)).toBe(true);
  });

  it('inflates nothing more once the response has closed (a bomb answered 413)', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    const response = new EventEmitter();
    const decoded = decodeContentEncoding('gzip', Readable.from([bomb]), response);
    let inflated = 0;
    decoded.on('data', (chunk: Buffer) => {
      inflated += chunk.length;
      // As fastify does at its body limit: stop listening, answer, and the response closes.
      if (inflated > 1024 * 1024 && decoded.listenerCount('data') > 0) {
        decoded.removeAllListeners('data');
        response.emit('close');
      }
    });
    await once(decoded, 'close');
    expect(decoded.destroyed).toBe(true);
    expect((decoded as unknown as { bytesWritten: number }).bytesWritten).toBeLessThan(bomb.length);
  });
});
