import type { Readable } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import { clientError } from './client-errors.ts';

/**
 * A request body with `Content-Encoding: gzip` or `deflate` (what tritonclient's
 * `request_compression_algorithm` sends), decompressed as it streams in. The stream reports the
 * bytes received on the wire as `receivedEncodedLength`, which fastify checks against
 * Content-Length, while it holds the decompressed bytes to the body limit chunk by chunk: a
 * compression bomb is a 413 after at most `bodyLimit` bytes, never inflated whole. A body that is
 * not valid gzip/deflate is a 400; any other encoding a 415.
 */
export function decodeContentEncoding(encoding: string | undefined, payload: Readable): Readable {
  const name = encoding?.trim().toLowerCase();
  if (!name || name === 'identity') return payload;
  if (name !== 'gzip' && name !== 'x-gzip' && name !== 'deflate') {
    throw clientError(415, `content-encoding: "${encoding}" is not supported (gzip, deflate or identity)`);
  }
  const inflater = name === 'deflate' ? createInflate() : createGunzip();
  const decoded = inflater as typeof inflater & { receivedEncodedLength: number };
  decoded.receivedEncodedLength = 0;
  payload.on('data', (chunk: Buffer) => {
    decoded.receivedEncodedLength += chunk.length;
  });
  payload.on('error', (error) => decoded.destroy(error));
  inflater.on('error', (error: Error & { statusCode?: number }) => {
    if (error.statusCode === undefined) {
      Object.assign(error, { statusCode: 400, message: `body: not valid ${name} data (${error.message})` });
    }
  });
  payload.pipe(inflater);
  return inflater;
}
