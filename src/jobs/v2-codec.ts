import { z } from 'zod';
import { JobFailure } from './errors.ts';

/**
 * The runner's V2 infer request bodies and the parsing of their answers, pure. Two encodings:
 * - `json`: pixels as JSON numbers (every V2 server speaks it);
 * - `binary`: Triton's binary tensor data extension: a JSON header with
 *   `parameters.binary_data_size`, then the raw little-endian FP32 tensor; the answer is asked for
 *   as binary too (`binary_data_output`). No number is formatted or parsed as text on either side.
 */
export const tensorEncodings = ['binary', 'json'] as const;
export type TensorEncoding = (typeof tensorEncodings)[number];

const PIXELS = 784;
export const inferenceHeaderLength = 'inference-header-content-length';

/** `v/255` spelled with 6 decimals at most, looked up instead of formatted per pixel. */
const PIXEL_TEXT = Array.from({ length: 256 }, (_, v) => String(Math.round((v / 255) * 1e6) / 1e6));
/** `v/255` as FP32, the same values the JSON text spells (to FP32 precision). */
const PIXEL_FP32 = Float32Array.from({ length: 256 }, (_, v) => Number(PIXEL_TEXT[v]));

/** The V2 request body for images [start, start+count) of an N*784 uint8 array, as JSON text. */
export function v2Body(images: Uint8Array, start: number, count: number): string {
  const parts: string[] = new Array(count * PIXELS);
  const offset = start * PIXELS;
  for (let i = 0; i < parts.length; i++) parts[i] = PIXEL_TEXT[images[offset + i]!]!;
  return `{"inputs":[{"name":"input","shape":[${count},1,28,28],"datatype":"FP32","data":[${parts.join(',')}]}]}`;
}

export interface EncodedRequest {
  body: string | Buffer;
  headers: Record<string, string>;
}

/** The binary-extension body: JSON header, then count*784 FP32 little-endian values. */
export function v2BinaryBody(images: Uint8Array, start: number, count: number): EncodedRequest {
  const values = count * PIXELS;
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        {
          name: 'input',
          shape: [count, 1, 28, 28],
          datatype: 'FP32',
          parameters: { binary_data_size: values * 4 },
        },
      ],
      parameters: { binary_data_output: true },
    }),
  );
  const tensor = new Float32Array(values);
  const offset = start * PIXELS;
  for (let i = 0; i < values; i++) tensor[i] = PIXEL_FP32[images[offset + i]!]!;
  if (!littleEndian) byteSwap32(tensor);
  return {
    body: Buffer.concat([header, Buffer.from(tensor.buffer, tensor.byteOffset, tensor.byteLength)]),
    headers: {
      'content-type': 'application/octet-stream',
      [inferenceHeaderLength]: String(header.length),
    },
  };
}

export function encodeBatch(
  encoding: TensorEncoding,
  images: Uint8Array,
  start: number,
  count: number,
): EncodedRequest {
  return encoding === 'binary'
    ? v2BinaryBody(images, start, count)
    : { body: v2Body(images, start, count), headers: { 'content-type': 'application/json' } };
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function byteSwap32(array: Float32Array): void {
  const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  for (let i = 0; i < bytes.length; i += 4) {
    [bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]] = [
      bytes[i + 3]!,
      bytes[i + 2]!,
      bytes[i + 1]!,
      bytes[i]!,
    ];
  }
}

const V2Response = z.object({
  outputs: z
    .array(
      z.object({
        name: z.string(),
        shape: z.array(z.number()),
        datatype: z.string().optional(),
        parameters: z.looseObject({ binary_data_size: z.number().int().min(0).optional() }).optional(),
        data: z.array(z.number()).optional(),
      }),
    )
    .min(1, 'expected at least one output'),
});

const invalid = (message: string) =>
  new JobFailure('inference_failed', `model answered an invalid V2 response: ${message}`);

/**
 * A V2 answer as count*10 probabilities: a JSON body, or (when `headerLength`, the
 * Inference-Header-Content-Length response header, is given) a JSON header followed by the binary
 * outputs in the order of the outputs that carry `binary_data_size`.
 */
export function parseV2Answer(
  body: Buffer,
  headerLength: string | undefined,
  count: number,
): ArrayLike<number> {
  let jsonEnd = body.length;
  if (headerLength !== undefined) {
    const n = Number(headerLength);
    if (!/^\d+$/.test(headerLength) || n > body.length)
      throw invalid(`Inference-Header-Content-Length ${headerLength} for a body of ${body.length} bytes`);
    jsonEnd = n;
  }
  let json: unknown;
  try {
    json = JSON.parse(body.subarray(0, jsonEnd).toString('utf8'));
  } catch {
    throw new JobFailure('inference_failed', 'model answered a body that is not JSON');
  }
  const parsed = V2Response.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(`${issue?.path.join('.')}: ${issue?.message}`);
  }
  const outputs = parsed.data.outputs;
  const chosen = Math.max(
    0,
    outputs.findIndex((o) => o.name === 'probabilities'),
  );
  const output = outputs[chosen]!;
  let values: ArrayLike<number>;
  const size = output.parameters?.binary_data_size;
  if (size !== undefined) {
    if (output.datatype !== undefined && output.datatype !== 'FP32')
      throw invalid(`outputs.${chosen}.datatype: expected FP32, got ${output.datatype}`);
    // Binary outputs follow the header in output order; skip the ones before the chosen one.
    let offset = jsonEnd;
    for (const other of outputs.slice(0, chosen)) offset += other.parameters?.binary_data_size ?? 0;
    if (size % 4 !== 0 || offset + size > body.length)
      throw invalid(
        `outputs.${chosen}: ${size} bytes of binary data announced, ${body.length - offset} present`,
      );
    const floats = new Float32Array(size / 4);
    new Uint8Array(floats.buffer).set(body.subarray(offset, offset + size));
    if (!littleEndian) byteSwap32(floats);
    values = floats;
  } else if (output.data) {
    values = output.data;
  } else {
    throw invalid(`outputs.${chosen}: neither data nor binary_data_size`);
  }
  if (values.length !== count * 10) {
    throw new JobFailure(
      'inference_failed',
      `model answered ${values.length} values for ${count} images, expected ${count * 10}`,
    );
  }
  return values;
}
