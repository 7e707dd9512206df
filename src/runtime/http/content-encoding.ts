import type { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import { clientError } from './client-errors.ts';

/**
 * A request body with `Content-Encoding: gzip` or `deflate` (what tritonclient's
 * `request_compression_algorithm` sends), decompressed as it streams in. The stream reports the
 * bytes received on the wire as `receivedEncodedLength`, which fastify checks against
 * Content-Length, while it holds the decompressed bytes to the body limit chunk by chunk: a
 * compression bomb is a 413 after at most `bodyLimit` bytes, never inflated whole. A body that is
 * not valid gzip/deflate is a 400; any other encoding a 415. Once `response` closes (answered, the
 * 413 included, or the client gone) nothing more is inflated: fastify stops reading at the limit
 * but the stream would otherwise go on inflating the rest of the bomb into the void.
 */
export function decodeContentEncoding(
  encoding: string | undefined,
  payload: Readable,
  response: Pick<EventEmitter, 'once'>,
): Readable {
  const name = encoding?.trim().toLowerCase();
  if (!name || name === 'identity') return payload;
  if (name !== 'gzip' && name !== 'x-gzip' && name !== 'deflate') {
    throw clientError(415, `content-encoding: "${encoding}" is not supported (gzip, deflate or identity)`);
  }
  // 64 KiB pieces rather than zlib's 16 KiB: a quarter of the callbacks on the event loop for the
  // same bytes (a 32 MiB bomb cost ~60 ms of CPU in 16 KiB pieces, ~30 ms in 64 KiB ones).
  const options = { chunkSize: 64 * 1024 };
  const inflater = name === 'deflate' ? createInflate(options) : createGunzip(options);
  response.once('close', () => {
    payload.unpipe(inflater);
    inflater.destroy();
  });
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
