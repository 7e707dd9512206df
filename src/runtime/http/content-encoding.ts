import type { EventEmitter } from 'node:events';
import { Readable, type Transform } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import { errorCodes } from 'fastify';
import { clientError } from './client-errors.ts';
import type { CompressedFormat, Inflated } from './inflate.ts';
import { OFF_LOOP_JSON_BYTES } from './json-body.ts';

/** Inflates a whole compressed body off the event loop (the preprocessing pool's `inflate`). */
export type OffLoopInflater = (
  compressed: Buffer,
  format: CompressedFormat,
  maxBytes: number,
) => Promise<Inflated>;

/**
 * A body inflating to more than this is inflated again, whole, off the event loop: the same bound
 * as for parsing JSON there (json-body.ts), as inflating costs the event loop in proportion to what
 * comes out (a 64 KB gzip bomb inflating to the 32 MiB body limit: ~8 ms of its CPU, and as much
 * memory for the garbage collector to reclaim, which on a busy replica was the largest share of
 * its GC).
 */
export const LOOP_INFLATE_BYTES = OFF_LOOP_JSON_BYTES;

/**
 * A request body with `Content-Encoding: gzip` or `deflate` (what tritonclient's
 * `request_compression_algorithm` sends), decompressed with the decompressed bytes held to
 * `bodyLimit`: a compression bomb is a 413 after at most `bodyLimit` bytes, never inflated whole.
 * The body is inflated on the event loop as it streams in while what comes out stays within
 * LOOP_INFLATE_BYTES (a one-digit request, ~15 KB); past that, it is given up there and the whole
 * compressed body, once received, is inflated by `offLoop` (a preprocessing thread, its cost
 * counted against that queue like a JSON body of `bodyLimit` bytes: 503 + Retry-After when full).
 * The stream reports the bytes received on the wire as `receivedEncodedLength`, which fastify checks
 * against Content-Length; compressed bytes over `bodyLimit` are a 413 as well. A body that is not
 * valid gzip/deflate is a 400; any other encoding a 415. Once `response` closes (answered, or the
 * client gone) nothing more of it is read or inflated.
 */
export function decodeContentEncoding(
  encoding: string | undefined,
  payload: Readable,
  response: Pick<EventEmitter, 'once'>,
  { bodyLimit, offLoop }: { bodyLimit: number; offLoop: OffLoopInflater },
): Readable {
  const name = encoding?.trim().toLowerCase();
  if (!name || name === 'identity') return payload;
  if (name !== 'gzip' && name !== 'x-gzip' && name !== 'deflate') {
    throw clientError(415, `content-encoding: "${encoding}" is not supported (gzip, deflate or identity)`);
  }
  const format: CompressedFormat = name === 'deflate' ? 'deflate' : 'gzip';
  const invalid = (message: string) => clientError(400, `body: not valid ${name} data (${message})`);

  const decoded = Object.assign(new Readable({ read() {} }), { receivedEncodedLength: 0 });
  const compressed: Buffer[] = [];
  /** Inflated on the loop so far (undefined once given up there). */
  let pieces: Buffer[] | undefined = [];
  let inflatedBytes = 0;
  /** The whole compressed body is in. */
  let received = false;
  let inflater: Transform | undefined =
    format === 'deflate' ? createInflate({ chunkSize: 64 * 1024 }) : createGunzip({ chunkSize: 64 * 1024 });

  const stop = () => {
    payload.off('data', onData);
    payload.off('end', onEnd);
    payload.off('error', fail);
    inflater?.destroy();
    inflater = undefined;
    pieces = undefined;
    compressed.length = 0;
  };
  function fail(error: Error) {
    stop();
    if (!decoded.destroyed) decoded.destroy(error);
  }
  const finish = (bytes: readonly Buffer[]) => {
    stop();
    for (const piece of bytes) decoded.push(piece);
    decoded.push(null);
  };
  function onData(chunk: Buffer) {
    decoded.receivedEncodedLength += chunk.length;
    if (decoded.receivedEncodedLength > bodyLimit) return fail(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    compressed.push(chunk);
    inflater?.write(chunk);
  }
  function onEnd() {
    received = true;
    if (inflater)
      inflater.end(); // its 'end' (or 'error') finishes, unless it is given up
    else inflateOffLoop();
  }
  function inflateOffLoop() {
    const body = Buffer.concat(compressed);
    compressed.length = 0;
    offLoop(body, format, bodyLimit).then((result) => {
      if (decoded.destroyed) return;
      if (result.kind === 'inflated') {
        const { bytes } = result;
        finish([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]);
      } else if (result.kind === 'tooLarge') fail(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      else fail(invalid(result.message));
    }, fail);
  }

  inflater.on('data', (piece: Buffer) => {
    if (!pieces) return; // given up (or finished) already
    inflatedBytes += piece.length;
    if (inflatedBytes <= LOOP_INFLATE_BYTES) return void pieces.push(piece);
    // Too much for the loop: given up here, inflated whole off it once the body is in.
    inflater?.destroy();
    inflater = undefined;
    pieces = undefined;
    if (received) inflateOffLoop();
  });
  inflater.on('end', () => finish(pieces ?? []));
  inflater.on('error', (error: Error) => {
    if (inflater) fail(invalid(error.message));
  });
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', fail);
  response.once('close', () => {
    stop();
    decoded.destroy();
  });
  return decoded;
}
