import { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { errorCodes, type FastifyInstance, type FastifyRequest } from 'fastify';
import { ownsWholeBuffer, release } from '../preprocess/own-buffer.ts';

/**
 * Bodies up to this size get their one buffer as their first bytes arrive; a larger one once half
 * of it has arrived: a client that declares a large Content-Length and then stalls makes the
 * server hold at most this much or twice what it sent, never the whole declared size.
 */
export const EAGER_BODY_BYTES = 1024 * 1024;

/** How a body reader answers: the body's bytes, or the error to answer the client with. */
export type BodyDone = (error: Error | null, body?: Buffer) => void;

/** What fastify calls a content-type parser with (`done`), and how it answers. */
export type ParserDone = (error: Error | null, body?: unknown) => void;

/** A parser of a whole body, read into one Buffer (`readBody`). */
export type BufferParser = (request: FastifyRequest, body: Buffer, done: ParserDone) => void;

/** A stream from a preParsing hook that decodes the body reports the bytes it took in as this. */
type Payload = Readable & { receivedEncodedLength?: number };

/**
 * Reads a request body (`payload`: the request, or what a preParsing hook made of it, see
 * content-encoding.ts) into one Buffer, with fastify's own answers for what goes wrong (its
 * `parseAs: 'buffer'` reader, lib/content-type-parser.js rawBody, which these mirror):
 *
 * - a Content-Length over `limit` is FST_ERR_CTP_BODY_TOO_LARGE (413) before a byte is read, and
 *   so is a body (decoded, or as received for a decoding stream) that grows past it, at once;
 * - a body whose length (as received, for a decoding stream) is not its Content-Length is
 *   FST_ERR_CTP_INVALID_CONTENT_LENGTH (400);
 * - a stream error is the error, a 400 unless it carries a 4xx/5xx status of its own.
 *
 * Where fastify keeps every chunk and concatenates them at the end (a second copy of the body, a
 * 15 MB one in one ~16 ms block on the event loop), the bytes go into a buffer of the body's
 * Content-Length as they arrive; a body that arrived as one chunk of the request that owns its
 * memory (Node's HTTP parser copies each piece of body into a buffer of its own) is that chunk,
 * not copied at all. A body of unknown size (chunked, or decoded) is joined once at the end, into
 * a buffer of exactly its size (a growing buffer would copy more, and would still need trimming
 * to move to a worker thread). Either way a body of half Buffer.poolSize or more (32 KiB in Node
 * 24; smaller ones are slices of the pool, as fastify's are) owns its whole ArrayBuffer, so it can
 * move to a worker thread without a copy. The parser's pieces, once copied, are freed at once
 * (own-buffer.ts release) rather than left to the event loop's garbage collector.
 */
export function readBody(
  payload: Payload,
  contentLength: string | undefined,
  limit: number,
  done: BodyDone,
): void {
  const expected = Number(contentLength);
  if (expected > limit) {
    done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    return;
  }
  new BodyReading(payload, expected, limit, done).start();
}

/**
 * One body being read. A class with bound methods rather than closures: under tsx (`npm start` in
 * a clone runs the sources) every named closure is renamed with Object.defineProperty when it is
 * made, ~0.7 us each, three per request.
 */
class BodyReading {
  /** The bytes that arrive are the body's own (no decoding stream): Content-Length is their count. */
  private readonly sized: boolean;
  private received = 0;
  private chunks: Buffer[] = [];
  private buffer: Buffer | undefined;
  private readonly onData: (chunk: Buffer | string) => void;
  private readonly onEnd: (error?: Error & { statusCode?: number }) => void;

  constructor(
    private readonly payload: Payload,
    /** Content-Length, NaN without one. */
    private readonly expected: number,
    private readonly limit: number,
    private readonly done: BodyDone,
  ) {
    this.sized = !Number.isNaN(expected) && !('receivedEncodedLength' in payload);
    this.onData = this.data.bind(this);
    this.onEnd = this.end.bind(this);
  }

  start(): void {
    this.payload.on('data', this.onData);
    this.payload.on('end', this.onEnd);
    this.payload.on('error', this.onEnd);
    this.payload.resume();
  }

  private stop(): void {
    this.payload.removeListener('data', this.onData);
    this.payload.removeListener('end', this.onEnd);
    this.payload.removeListener('error', this.onEnd);
  }

  private data(chunk: Buffer | string): void {
    // A preParsing stream may emit strings.
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const { expected, limit } = this;
    this.received += bytes.length;
    const received = this.received;
    if (received > limit || (this.payload.receivedEncodedLength ?? 0) > limit) {
      this.stop();
      this.done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      return;
    }
    if (this.buffer !== undefined) {
      // More than Content-Length is refused at the end; nothing past it is kept.
      if (received <= expected) this.buffer.set(bytes, received - bytes.length);
      this.copied(bytes);
      return;
    }
    this.chunks.push(bytes);
    if (this.sized && received < expected && (expected <= EAGER_BODY_BYTES || received * 2 >= expected)) {
      const buffer = Buffer.allocUnsafe(expected);
      let offset = 0;
      for (const piece of this.chunks) {
        buffer.set(piece, offset);
        offset += piece.length;
        this.copied(piece);
      }
      this.buffer = buffer;
      this.chunks = [];
    }
  }

  /**
   * A piece now copied into the body's buffer: freed at once when it is one Node's HTTP parser
   * made for this request alone (memory of its own, read by no other listener), rather than left
   * on the event loop's isolate as external memory until a full collection (four ~64 KiB pieces
   * per 200 KB body).
   */
  private copied(piece: Buffer, exclusive = this.exclusive()): void {
    if (exclusive) release(piece);
  }

  /** The body's pieces are Node's HTTP parser's, and this reader their only reader (so far). */
  private exclusive(): boolean {
    return this.payload instanceof IncomingMessage && this.payload.listenerCount('data') === 1;
  }

  private end(error?: Error & { statusCode?: number }): void {
    const exclusive = this.exclusive();
    this.stop();
    if (error != null) {
      if (!(typeof error.statusCode === 'number' && error.statusCode >= 400)) error.statusCode = 400;
      this.done(error);
      return;
    }
    const { expected, received } = this;
    if (!Number.isNaN(expected) && (this.payload.receivedEncodedLength || received) !== expected) {
      this.done(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
      return;
    }
    if (this.buffer !== undefined) {
      this.done(null, this.buffer);
      return;
    }
    const body = joined(this.chunks, received, this.payload);
    if (body !== this.chunks[0]) for (const piece of this.chunks) this.copied(piece, exclusive);
    this.done(null, body);
  }
}

/**
 * The chunks as one Buffer: the one chunk itself when Node's HTTP parser made it for this body
 * alone (its own ArrayBuffer, exactly its size: nothing else holds or reuses it), else a copy.
 */
function joined(chunks: Buffer[], length: number, payload: Readable): Buffer {
  const only = chunks.length === 1 ? chunks[0]! : undefined;
  if (only !== undefined && payload instanceof IncomingMessage && ownsWholeBuffer(only)) return only;
  return Buffer.concat(chunks, length);
}

/**
 * A fastify content-type parser (registered without `parseAs`: it gets the stream) that reads the
 * body with readBody, held to `limit` (the app's bodyLimit: no route sets its own), and hands the
 * Buffer to `parse`.
 */
export function bufferParser(limit: number, parse: BufferParser) {
  return (request: FastifyRequest, payload: Readable, done: ParserDone): void => {
    readBody(payload, request.headers['content-length'], limit, (error, body) => {
      if (error !== null) {
        done(error, undefined);
        return;
      }
      try {
        parse(request, body!, done);
      } catch (thrown) {
        done(thrown as Error, undefined);
      }
    });
  };
}

/** Registers `parse` for `contentType` on `app`, its bodies read by readBody within app's bodyLimit. */
export function addBufferParser(app: FastifyInstance, contentType: string, parse: BufferParser): void {
  // fastify fills in its default (1 MiB) when the app was built without one.
  const limit = app.initialConfig.bodyLimit;
  if (limit === undefined) throw new Error('addBufferParser: the app has no bodyLimit');
  app.addContentTypeParser(contentType, bufferParser(limit, parse));
}
