import secureJsonParse from 'secure-json-parse';
import { jsonDepthError } from '../json-depth.ts';
import { fp32Problem, walkNested } from './tensor.ts';
import { type FastTensorData, type FastV2Request, parseV2Json } from './v2-json.ts';

/**
 * What one JSON request body parses to, computed the same way wherever it runs: on the event loop
 * for small bodies, on a preprocessing thread for large ones (json-body.ts). Pure: bytes in,
 * a result out that a thread can post back (plain data and Float32Arrays), errors as results.
 *
 * - `fast`: a V2 infer body on the fast path (v2-json.ts).
 * - `json`: the body as fastify's JSON parser gives it (`/v1/predict` pixels as Float64Arrays,
 *   see typedPixels); for a V2 infer body whose
 *   `inputs[0].data` is nothing but finite FP32 numbers, that data already read (`data`) and left
 *   out of `json`, so that the thread does not post back (and the event loop does not rebuild)
 *   an array of 800k numbers.
 * - `tooDeep`: nesting over maxJsonDepth, refused before parsing (400 naming the field).
 * - `empty` / `invalid`: fastify's own 400s for an empty body and for one that is not JSON (or
 *   that tries prototype poisoning), the same errors its default parser gives.
 */
export type ParsedJson =
  | { kind: 'fast'; body: FastV2Request }
  | { kind: 'json'; json: unknown; data?: FastTensorData }
  | { kind: 'tooDeep'; message: string }
  | { kind: 'empty' }
  | { kind: 'invalid' };

/** `v2`: the body of a V2 infer request (the fast path and the data read in advance apply). */
export function parseJsonBody(bytes: Uint8Array, v2: boolean, maxJsonDepth: number): ParsedJson {
  if (v2) {
    const fast = parseV2Json(bytes, maxJsonDepth);
    if (fast) return { kind: 'fast', body: fast };
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  const tooDeep = jsonDepthError(text, maxJsonDepth);
  if (tooDeep) return { kind: 'tooDeep', message: tooDeep };
  if (text.length === 0) return { kind: 'empty' };
  let json: unknown;
  try {
    // fastify's default JSON parser, with the options the runtime gives it ('error' for both).
    json = secureJsonParse(text, { protoAction: 'error', constructorAction: 'error' });
  } catch {
    return { kind: 'invalid' };
  }
  if (!v2) {
    typedPixels(json);
    return { kind: 'json', json };
  }
  const data = takeInputData(json);
  return data ? { kind: 'json', json, data } : { kind: 'json', json };
}

/** The JSON header of a binary tensor data body, read (`data` as for JSON bodies) or refused. */
export type ParsedBinaryHeader =
  | { kind: 'json'; json: unknown; data?: FastTensorData }
  | { kind: 'refused'; message: string };

/**
 * The JSON header of a body with binary tensor data (v2-binary.ts), as the V2 handler reads it:
 * nesting over maxJsonDepth refused before parsing, a header that is not JSON refused naming the
 * parser's complaint. `inputs[0].data` is read in advance (takeInputData) only when no bytes follow
 * the header (`restIsEmpty`): otherwise the handler must still say those bytes are not expected.
 */
export function parseBinaryHeader(
  header: Uint8Array,
  maxJsonDepth: number,
  restIsEmpty: boolean,
): ParsedBinaryHeader {
  const text = Buffer.from(header.buffer, header.byteOffset, header.byteLength).toString('utf8');
  const tooDeep = jsonDepthError(text, maxJsonDepth);
  if (tooDeep) return { kind: 'refused', message: tooDeep };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { kind: 'refused', message: `body: the JSON header does not parse (${(error as Error).message})` };
  }
  const data = restIsEmpty ? takeInputData(json) : undefined;
  return data ? { kind: 'json', json, data } : { kind: 'json', json };
}

/**
 * `/v1/predict` pixels (`pixels`, or `instances[i].pixels` when there are `instances`, as the
 * handler reads them) that are arrays of numbers only, as Float64Arrays: the same values, which
 * the Pixels check reads either way (same answers, same messages), but which a thread posts back
 * and the event loop hands on to the preprocessing as bytes, not as 784 numbers each (1,024 of
 * them cost the event loop ~0.3 s as arrays).
 */
function typedPixels(json: unknown): void {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return;
  const instances = 'instances' in json ? (json as { instances: unknown }).instances : [json];
  if (!Array.isArray(instances)) return;
  const holders: { pixels: number[] }[] = [];
  let total = 0;
  for (const instance of instances) {
    if (typeof instance !== 'object' || instance === null) continue;
    const pixels = (instance as { pixels?: unknown }).pixels;
    if (Array.isArray(pixels) && pixels.every((v) => typeof v === 'number')) {
      holders.push(instance as { pixels: number[] });
      total += pixels.length;
    }
  }
  // Views of one buffer: posted as one block of bytes, one allocation for the GC.
  const all = new Float64Array(total);
  let offset = 0;
  for (const holder of holders) {
    const length = holder.pixels.length;
    all.set(holder.pixels, offset);
    (holder as { pixels: unknown }).pixels = all.subarray(offset, offset + length);
    offset += length;
  }
}

/**
 * A V2 body's `inputs[0].data` as a FastTensorData, removed from the body, when that is all the
 * handler would read of it: the only input, no binary_data_size beside it, every leaf a finite
 * FP32 number. zod accepts any array there, and flattenTensorData can then fail only on depth and
 * count, which checkTensorData checks on the result with the same messages. Anything else is left
 * in place for the handler's own checks, which name what is wrong.
 */
function takeInputData(json: unknown): FastTensorData | undefined {
  const inputs = (json as { inputs?: unknown } | null)?.inputs;
  if (!Array.isArray(inputs) || inputs.length !== 1) return undefined;
  const input = inputs[0] as { data?: unknown; parameters?: unknown } | null;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return undefined;
  const parameters = input.parameters as { binary_data_size?: unknown } | undefined;
  if (parameters !== undefined && (typeof parameters !== 'object' || parameters === null)) return undefined;
  if (parameters?.binary_data_size !== undefined || !Array.isArray(input.data)) return undefined;
  const read = readNumbers(input.data);
  if (read) delete input.data;
  return read;
}

/** Nested arrays of finite FP32 numbers into one Float32Array, or undefined. */
function readNumbers(data: unknown[]): FastTensorData | undefined {
  const values: number[] = [];
  let deepest = 1;
  let clean = true;
  walkNested(
    data,
    (v) => {
      clean = typeof v === 'number' && fp32Problem(v) === undefined;
      if (clean) values.push(v as number);
      return clean;
    },
    (depth) => {
      deepest = Math.max(deepest, depth);
    },
  );
  return clean ? { values: Float32Array.from(values), depth: deepest } : undefined;
}
