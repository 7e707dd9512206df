import { errorCodes, type FastifyInstance } from 'fastify';
import type { V2InferRequest } from '../../api/v2.ts';
import { release } from '../preprocess/own-buffer.ts';
import { addBufferParser, type BufferParser, type ParserDone } from './body-reader.ts';
import { clientError } from './client-errors.ts';
import { type ParsedBinaryHeader, type ParsedJson, parseJsonBody } from './json-parse.ts';
import { inferenceHeaderLength } from './v2-binary.ts';
import type { FastTensorData } from './v2-json.ts';

/**
 * JSON bodies of this many bytes and more are parsed on a preprocessing thread, not on the event
 * loop (a 15 MB V2 body of 800k numbers takes ~100 ms to parse; one of 256 KiB about 2 ms).
 */
export const OFF_LOOP_JSON_BYTES = 256 * 1024;

/** Parses a large body off the event loop (the preprocessing pool's `parseJson`). */
export type OffLoopJsonParser = (bytes: Buffer, v2: boolean) => Promise<ParsedJson>;

/**
 * A V2 infer body read by the parser: the fast path's request (`request`, already in the schema's
 * shape), or the JSON for zod with `inputs[0].data` already read (`data`, see json-parse.ts). A
 * class, so that no client's JSON can pass for one.
 */
export class ReadV2Body {
  constructor(
    readonly json: unknown,
    readonly request: V2InferRequest | undefined,
    readonly data: FastTensorData | undefined,
  ) {}
}

/**
 * A binary tensor data body whose JSON header (its first `headerLength` bytes) was read by the
 * body parser, off the event loop (json-parse.ts parseBinaryHeader); `bytes` is the whole body.
 */
export class ReadBinaryBody {
  constructor(
    readonly bytes: Buffer,
    readonly headerLength: number,
    readonly header: ParsedBinaryHeader,
  ) {}
}

/** Parses a large binary body's JSON header off the event loop (the pool's `parseBinaryHeader`). */
export type OffLoopBinaryHeaderParser = (
  bytes: Buffer,
  headerLength: number,
) => Promise<{ header: ParsedBinaryHeader; bytes: Uint8Array }>;

/**
 * The V2 routes' parser for every non-JSON body (binary tensor data: Triton's clients send it as
 * octet-stream or with any content type): the Buffer as read (body-reader.ts), for the handler to
 * split, except that a JSON header (`Inference-Header-Content-Length`, else the whole body) of
 * OFF_LOOP_JSON_BYTES or more is read by `offLoop`, as a ReadBinaryBody. A header length that is
 * not a valid one is left to the handler, which names it.
 */
export function binaryBodyParser(offLoop: OffLoopBinaryHeaderParser): BufferParser {
  return (request, bytes, done) => {
    const given = request.headers[inferenceHeaderLength];
    const length =
      given === undefined
        ? bytes.length
        : typeof given === 'string' && /^\d+$/.test(given)
          ? Number(given)
          : -1;
    if (length < OFF_LOOP_JSON_BYTES || length > bytes.length) return done(null, bytes);
    offLoop(bytes, length).then(
      (read) =>
        done(
          null,
          new ReadBinaryBody(
            Buffer.from(read.bytes.buffer, read.bytes.byteOffset, read.bytes.byteLength),
            length,
            read.header,
          ),
        ),
      (error: Error) => done(error, undefined),
    );
  };
}

/**
 * JSON request bodies as fastify parses them (prototype poisoning refused, an empty or invalid
 * body fastify's 400), except that a body nesting deeper than `maxJsonDepth` is a 400 naming the
 * field before it is parsed (src/runtime/json-depth.ts), and that bodies from
 * OFF_LOOP_JSON_BYTES up are parsed by `offLoop`, with the same answers.
 */
export function installJsonBodyParser(
  app: FastifyInstance,
  maxJsonDepth: number,
  offLoop: OffLoopJsonParser,
) {
  app.removeContentTypeParser('application/json');
  addBufferParser(app, 'application/json', jsonBodyParser(maxJsonDepth, false, offLoop));
}

/** The parser itself; `v2` for the V2 infer routes (the fast path, a ReadV2Body). */
export function jsonBodyParser(maxJsonDepth: number, v2: boolean, offLoop: OffLoopJsonParser): BufferParser {
  return (_request, bytes, done) => {
    if (bytes.length < OFF_LOOP_JSON_BYTES) {
      const parsed = parseJsonBody(bytes, v2, maxJsonDepth);
      // Nothing parsed refers to the bytes (numbers and strings are copies): a body in memory of
      // its own (Node's HTTP parser's one piece, or body-reader's buffer) is freed now, not left
      // on the event loop's isolate as external memory until a collection.
      release(bytes);
      return answer(parsed, done);
    }
    offLoop(bytes, v2).then(
      (parsed) => answer(parsed, done),
      (error: Error) => done(error, undefined),
    );
  };
}

function answer(parsed: ParsedJson, done: ParserDone): void {
  if (parsed.kind === 'fast') done(null, new ReadV2Body(undefined, parsed.body.request, parsed.body.data[0]));
  else if (parsed.kind === 'json') {
    done(null, parsed.data ? new ReadV2Body(parsed.json, undefined, parsed.data) : parsed.json);
  } else done(refusal(parsed), undefined);
}

/** The error for a body that does not parse: fastify's own for an empty or invalid one. */
function refusal(parsed: Extract<ParsedJson, { kind: 'tooDeep' | 'empty' | 'invalid' }>): Error {
  if (parsed.kind === 'tooDeep') return clientError(400, parsed.message);
  if (parsed.kind === 'empty') return new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY();
  return new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY();
}
