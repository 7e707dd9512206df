import type { V2InferResponse } from '../../api/v2.ts';
import { InvalidInputError } from '../errors.ts';
import { parseBinaryHeader } from './json-parse.ts';
import { firstNonFinite, fp32Problem } from './tensor.ts';
import type { FastTensorData } from './v2-json.ts';

/**
 * The binary tensor data extension of the V2 protocol (Triton's, used by its clients by default):
 * the body is a JSON header of `Inference-Header-Content-Length` bytes followed by each binary
 * tensor's raw little-endian bytes, in input order. Responses use the same layout.
 */
export const inferenceHeaderLength = 'inference-header-content-length';

/**
 * Splits a body into its parsed JSON header and the bytes after it. The header is held to
 * `maxJsonDepth` before it is parsed, as every other JSON body is (it can be the whole body);
 * `data`: its inputs[0].data read in advance (json-parse.ts parseBinaryHeader).
 */
export function splitBinaryBody(
  body: Buffer,
  header: string | string[] | undefined,
  maxJsonDepth: number,
): { json: unknown; binary: Buffer; data: FastTensorData | undefined } {
  let length = body.length;
  if (header !== undefined) {
    const n = Number(header);
    if (typeof header !== 'string' || !/^\d+$/.test(header) || n > body.length) {
      throw new InvalidInputError(
        `Inference-Header-Content-Length: expected an integer between 0 and the body length (${body.length}), got ${String(header)}`,
      );
    }
    length = n;
  }
  const read = parseBinaryHeader(body.subarray(0, length), maxJsonDepth, length === body.length);
  if (read.kind === 'refused') throw new InvalidInputError(read.message);
  return { json: read.json, binary: body.subarray(length), data: read.data };
}

/**
 * FP32 little-endian bytes as a Float32Array. Read in place when they start 4-byte aligned, or can
 * be moved there within the `slack` bytes before them that the caller no longer needs (the JSON
 * header of the same body); copied otherwise.
 */
export function fp32FromBytes(bytes: Buffer, field: string, slack = 0): Float32Array {
  const misaligned = bytes.byteOffset % 4;
  let out: Float32Array;
  if (misaligned === 0) out = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  else if (misaligned <= slack) {
    const to = bytes.byteOffset - misaligned;
    new Uint8Array(bytes.buffer).copyWithin(to, bytes.byteOffset, bytes.byteOffset + bytes.length);
    out = new Float32Array(bytes.buffer, to, bytes.length / 4);
  } else {
    out = new Float32Array(bytes.length / 4);
    new Uint8Array(out.buffer).set(bytes);
  }
  const bad = firstNonFinite(out);
  if (bad >= 0) throw new InvalidInputError(`${field}[${bad}]: ${fp32Problem(out[bad]!)}`);
  return out;
}

/** A binary response: the JSON header, then the tensor's bytes. */
export function binaryResponse(
  header: unknown,
  tensor: Float32Array,
): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header));
  return {
    body: Buffer.concat([json, Buffer.from(tensor.buffer, tensor.byteOffset, tensor.byteLength)]),
    headerLength: json.length,
  };
}

/**
 * A JSON response whose one output's `data` is `tensor`: the head through JSON.stringify, the
 * numbers joined as text (each written as JSON.stringify writes a number, without an array of
 * them in between). `response` has exactly one output, its `data` an empty array.
 */
export function jsonResponse(response: V2InferResponse, tensor: Float32Array): string {
  const text = JSON.stringify(response);
  const end = ']}]}'; // the empty data array, its output, the outputs, the response
  if (!text.endsWith(`[${end}`)) throw new Error('jsonResponse: expected one output whose data comes last');
  return `${text.slice(0, -end.length)}${tensor.join(',')}${end}`;
}
