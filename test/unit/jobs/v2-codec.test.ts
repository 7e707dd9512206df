import { describe, expect, it } from 'vitest';
import { JobFailure } from '../../../src/jobs/errors.ts';
import { encodeBatch, parseV2Answer, v2BinaryBody, v2Body } from '../../../src/jobs/v2-codec.ts';
import { binaryResponse, fp32FromBytes, splitBinaryBody } from '../../../src/runtime/http/v2-binary.ts';

const images = Uint8Array.from({ length: 3 * 784 }, (_, i) => (i * 7) % 256);

describe('V2 request bodies', () => {
  it('binary: a header the runtime splits, then the same FP32 values the JSON body spells', () => {
    const { body, headers } = v2BinaryBody(images, 1, 2);
    expect(headers['content-type']).toBe('application/octet-stream');
    const { json, binary } = splitBinaryBody(body as Buffer, headers['inference-header-content-length'], 64);
    expect(json).toEqual({
      inputs: [
        {
          name: 'input',
          shape: [2, 1, 28, 28],
          datatype: 'FP32',
          parameters: { binary_data_size: 2 * 784 * 4 },
        },
      ],
      parameters: { binary_data_output: true },
    });
    const values = fp32FromBytes(binary, 'input');
    const text = JSON.parse(v2Body(images, 1, 2)).inputs[0].data as number[];
    expect(values).toHaveLength(2 * 784);
    expect(Array.from(values)).toEqual(Array.from(Float32Array.from(text)));
    expect(values[0]).toBeCloseTo(images[784]! / 255, 6);
  });

  it('json when asked', () => {
    const request = encodeBatch('json', images, 0, 1);
    expect(request.headers['content-type']).toBe('application/json');
    expect(typeof request.body).toBe('string');
  });
});

describe('parseV2Answer', () => {
  const probabilities = Float32Array.from({ length: 20 }, (_, i) => i / 20);

  it('reads JSON data', () => {
    const body = Buffer.from(
      JSON.stringify({
        outputs: [{ name: 'probabilities', shape: [2, 10], data: Array.from(probabilities) }],
      }),
    );
    expect(Array.from(parseV2Answer(body, undefined, 2))).toEqual(Array.from(probabilities));
  });

  it('reads the binary output the runtime writes', () => {
    const answer = binaryResponse(
      {
        model_name: 'm',
        outputs: [
          { name: 'probabilities', shape: [2, 10], datatype: 'FP32', parameters: { binary_data_size: 80 } },
        ],
      },
      probabilities,
    );
    expect(Array.from(parseV2Answer(answer.body, String(answer.headerLength), 2))).toEqual(
      Array.from(probabilities),
    );
  });

  it('finds "probabilities" after another binary output', () => {
    const other = new Float32Array([9, 9]);
    const header = Buffer.from(
      JSON.stringify({
        outputs: [
          { name: 'logits', shape: [2], datatype: 'FP32', parameters: { binary_data_size: 8 } },
          { name: 'probabilities', shape: [2, 10], datatype: 'FP32', parameters: { binary_data_size: 80 } },
        ],
      }),
    );
    const body = Buffer.concat([header, Buffer.from(other.buffer), Buffer.from(probabilities.buffer)]);
    expect(Array.from(parseV2Answer(body, String(header.length), 2))).toEqual(Array.from(probabilities));
  });

  it.each([
    [
      'a header length past the body',
      (b: Buffer, n: number) => [b, String(n + 999)] as const,
      /Header-Content-Length/,
      2,
    ],
    [
      'missing tensor bytes',
      (b: Buffer, n: number) => [b.subarray(0, b.length - 4), String(n)] as const,
      /announced/,
      2,
    ],
    ['the wrong count', (b: Buffer, n: number) => [b, String(n)] as const, /expected 30/, 3],
  ])('fails on %s', (_what, mutate, message, count) => {
    const answer = binaryResponse(
      {
        outputs: [
          { name: 'probabilities', shape: [2, 10], datatype: 'FP32', parameters: { binary_data_size: 80 } },
        ],
      },
      probabilities,
    );
    const [body, length] = mutate(answer.body, answer.headerLength);
    const error = (() => {
      try {
        parseV2Answer(body, length, count);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(JobFailure);
    expect((error as JobFailure).message).toMatch(message);
  });
});
