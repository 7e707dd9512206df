import { EventEmitter } from 'node:events';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import { EAGER_BODY_BYTES, readBody } from '../../../src/runtime/http/body-reader.ts';
import { decodeContentEncoding } from '../../../src/runtime/http/content-encoding.ts';
import { type CompressedFormat, inflateBody } from '../../../src/runtime/http/inflate.ts';

/** readBody's answer for `payload`, as a promise. */
const read = (payload: Readable, contentLength: number | string | undefined, limit = 1 << 20) =>
  new Promise<{ error: (Error & { code?: string; statusCode?: number }) | null; body?: Buffer }>((resolve) =>
    readBody(payload, contentLength === undefined ? undefined : String(contentLength), limit, (error, body) =>
      resolve({ error, body }),
    ),
  );

/** A request as Node's HTTP server makes it, its body pushed in `chunks`. */
function incoming(chunks: Buffer[]): IncomingMessage {
  const message = new IncomingMessage(new Socket());
  for (const chunk of chunks) message.push(chunk);
  message.push(null);
  return message;
}

/** A copy of `bytes` in memory of its own, as Node's HTTP parser gives each piece of a body. */
const own = (bytes: Uint8Array) => Buffer.from(new Uint8Array(bytes).buffer);
const bytes = (length: number, seed = 1) => own(Uint8Array.from({ length }, (_, i) => (i * seed) % 251));
/** `whole` cut into pieces of `size` bytes, each in memory of its own. */
const pieces = (whole: Buffer, size: number) => {
  const out: Buffer[] = [];
  for (let at = 0; at < whole.length; at += size) out.push(own(whole.subarray(at, at + size)));
  return out;
};
/** content-encoding.ts's options: its own limit above the reader's, its off-loop inflater in this thread. */
const inflating = {
  bodyLimit: 1 << 20,
  offLoop: async (compressed: Buffer, format: CompressedFormat, maxBytes: number) =>
    inflateBody(compressed, format, maxBytes),
};
/** The body owns its whole ArrayBuffer (so it can move to a worker thread without a copy). */
const ownsItsBuffer = (body: Buffer) => body.byteOffset === 0 && body.byteLength === body.buffer.byteLength;

/** Its ArrayBuffer was detached (ES2024's `detached`, which TypeScript's ES2023 library lacks). */
const detached = (bytes: Uint8Array) => (bytes.buffer as ArrayBuffer & { detached: boolean }).detached;

describe('readBody', () => {
  it('a body in several chunks is one buffer of exactly Content-Length bytes, owning its memory', async () => {
    const whole = bytes(200_000, 7);
    const { error, body } = await read(incoming(pieces(whole, 65_536)), whole.length);
    expect(error).toBeNull();
    expect(body!.equals(whole)).toBe(true);
    expect(ownsItsBuffer(body!)).toBe(true);
  });

  it("the parser's pieces it copied are freed at once (detached), not left to the GC", async () => {
    // Node's HTTP parser gives each piece of a body memory of its own; once copied into the body's
    // buffer nothing else holds it, and on the event loop's isolate it would count as external
    // memory (what makes V8 start full collections) until a collection found it.
    const whole = bytes(200_000, 5);
    const chunks = pieces(whole, 65_536);
    const { body } = await read(incoming(chunks), whole.length);
    expect(body!.equals(whole)).toBe(true);
    for (const chunk of chunks) expect(detached(chunk)).toBe(true);
    // Joined at the end (no Content-Length): the same.
    const later = pieces(whole, 65_536);
    expect((await read(incoming(later), undefined)).body!.equals(whole)).toBe(true);
    for (const chunk of later) expect(detached(chunk)).toBe(true);
  });

  it('pieces another stream made, or that another listener also reads, are left alone', async () => {
    const whole = bytes(200_000, 5);
    const fromStream = pieces(whole, 65_536);
    expect((await read(Readable.from(fromStream), whole.length)).body!.equals(whole)).toBe(true);
    for (const chunk of fromStream) expect(detached(chunk)).toBe(false);
    const shared = pieces(whole, 65_536);
    const request = incoming(shared);
    const seen: Buffer[] = [];
    request.on('data', (chunk: Buffer) => seen.push(chunk));
    expect((await read(request, whole.length)).body!.equals(whole)).toBe(true);
    expect(Buffer.concat(seen).equals(whole)).toBe(true);
    for (const chunk of shared) expect(detached(chunk)).toBe(false);
  });

  it("a body that arrived as one chunk of Node's HTTP parser is that chunk, not a copy", async () => {
    const chunk = bytes(4_500);
    const { body } = await read(incoming([chunk]), chunk.length);
    expect(body).toBe(chunk);
  });

  it('one chunk from any other stream is copied (it may be a view of memory its maker reuses)', async () => {
    // Over half Buffer.poolSize, so that a copy is a buffer of its own too.
    const memory = bytes(80_000);
    const chunk = memory.subarray(0, 40_000);
    const fromStream = await read(Readable.from([chunk]), chunk.length);
    expect(fromStream.body).not.toBe(chunk);
    expect(fromStream.body!.equals(chunk)).toBe(true);
    // A view of a larger buffer is copied even from the request.
    const view = await read(incoming([chunk]), chunk.length);
    expect(view.body).not.toBe(chunk);
    expect(ownsItsBuffer(view.body!)).toBe(true);
  });

  it('a large declared body gets its buffer only once half of it has arrived', async () => {
    // Over EAGER_BODY_BYTES: a client that declares a large body and stalls is held to twice what
    // it sent, not the whole declared size.
    const whole = bytes(3 * EAGER_BODY_BYTES, 3);
    const allocations = vi.spyOn(Buffer, 'allocUnsafe');
    try {
      const stream = new PassThrough();
      const answer = read(stream, whole.length, 4 * EAGER_BODY_BYTES);
      let written = 0;
      let writtenAtAllocation: number | undefined;
      for (const piece of pieces(whole, 300_000)) {
        stream.write(piece);
        written += piece.length;
        await new Promise(setImmediate);
        const allocated = allocations.mock.calls.some(([size]) => size === whole.length);
        if (allocated && writtenAtAllocation === undefined) writtenAtAllocation = written;
      }
      stream.end();
      const { error, body } = await answer;
      expect(error).toBeNull();
      expect(body!.equals(whole)).toBe(true);
      expect(ownsItsBuffer(body!)).toBe(true);
      expect(writtenAtAllocation).toBeGreaterThanOrEqual(whole.length / 2);
      expect(writtenAtAllocation).toBeLessThan(whole.length / 2 + 300_000);
    } finally {
      allocations.mockRestore();
    }
  });

  it('a chunked body (no Content-Length) is joined, strings included', async () => {
    const { error, body } = await read(Readable.from(['{"a":', Buffer.from('1}')]), undefined);
    expect(error).toBeNull();
    expect(body!.toString()).toBe('{"a":1}');
  });

  it('an empty body is an empty buffer', async () => {
    expect((await read(incoming([]), 0)).body!.length).toBe(0);
    expect((await read(incoming([]), undefined)).body!.length).toBe(0);
  });

  it("413 (fastify's FST_ERR_CTP_BODY_TOO_LARGE) for a Content-Length over the limit, before reading", async () => {
    const stream = new PassThrough();
    const { error } = await read(stream, 2_000, 1_000);
    expect(error).toMatchObject({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 });
    expect(stream.listenerCount('data')).toBe(0);
  });

  it('413 as soon as a body without Content-Length grows past the limit, and no longer listening', async () => {
    const stream = new PassThrough();
    const answer = read(stream, undefined, 1_000);
    stream.write(bytes(600));
    stream.write(bytes(600));
    const { error } = await answer;
    expect(error).toMatchObject({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 });
    expect(stream.listenerCount('data')).toBe(0);
  });

  it('413 for a compressed body whose decoded bytes pass the limit (a bomb), however small it came', async () => {
    const compressed = gzipSync(Buffer.alloc(100_000));
    const decoded = decodeContentEncoding('gzip', Readable.from([compressed]), new EventEmitter(), inflating);
    const { error } = await read(decoded, compressed.length, 50_000);
    expect(error).toMatchObject({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 });
  });

  it('a compressed body is decoded, its Content-Length checked against the bytes received', async () => {
    const whole = Buffer.from(JSON.stringify({ data: new Array(5_000).fill(0.25) }));
    const compressed = gzipSync(whole);
    const decode = () =>
      decodeContentEncoding('gzip', Readable.from([compressed]), new EventEmitter(), inflating);
    const ok = await read(decode(), compressed.length);
    expect(ok.error).toBeNull();
    expect(ok.body!.equals(whole)).toBe(true);
    const wrong = await read(decode(), whole.length);
    expect(wrong.error).toMatchObject({ code: 'FST_ERR_CTP_INVALID_CONTENT_LENGTH', statusCode: 400 });
  });

  it.each([
    ['fewer', 1_000, 999],
    ['more', 1_000, 1_001],
    ['more, past an early buffer', 1_000, 1_500],
  ])(
    "400 (fastify's FST_ERR_CTP_INVALID_CONTENT_LENGTH) for %s bytes than Content-Length",
    async (_, declared, sent) => {
      const { error } = await read(Readable.from(pieces(bytes(sent), 400)), declared);
      expect(error).toMatchObject({ code: 'FST_ERR_CTP_INVALID_CONTENT_LENGTH', statusCode: 400 });
    },
  );

  it("a stream's error is the answer: a 400 unless it says otherwise", async () => {
    const failing = (statusCode?: number) => {
      const stream = new PassThrough();
      setImmediate(() =>
        stream.destroy(Object.assign(new Error('aborted'), statusCode ? { statusCode } : {})),
      );
      return stream;
    };
    expect((await read(failing(), 100)).error).toMatchObject({ message: 'aborted', statusCode: 400 });
    expect((await read(failing(415), 100)).error).toMatchObject({ statusCode: 415 });
  });
});
