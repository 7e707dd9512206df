import { describe, expect, it } from 'vitest';
import { V2InferRequestSchema } from '../../../src/api/v2.ts';
import { flattenTensorData } from '../../../src/runtime/http/tensor.ts';
import { FP32_OVERFLOW, parseV2Json as parseBytes } from '../../../src/runtime/http/v2-json.ts';
import { limitsConfigShape } from '../../../src/runtime/limits.ts';

/** The runtime's default maxJsonDepth (64), as a runtime started without settings uses it. */
const maxJsonDepth = limitsConfigShape.maxJsonDepth.parse(undefined);
const parseV2Json = (text: string) => parseBytes(Buffer.from(text), maxJsonDepth);

/** The general path's reading of a body: JSON.parse, zod, then the data flattened as FP32. */
function general(text: string) {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = V2InferRequestSchema.safeParse(json);
  if (!parsed.success) return undefined;
  return parsed.data;
}

/** What the fast path read must be what the general path reads, whenever the fast path reads it. */
function agree(text: string): boolean {
  const fast = parseV2Json(text);
  if (!fast) return false;
  const body = general(text);
  expect(body, text.slice(0, 200)).toBeDefined();
  const { inputs, ...rest } = body!;
  expect(fast.request.id).toEqual(rest.id);
  expect(fast.request.parameters).toEqual(rest.parameters);
  expect(fast.request.outputs).toEqual(rest.outputs);
  expect(fast.request.inputs.length).toBe(inputs.length);
  for (const [i, input] of inputs.entries()) {
    const { data, ...meta } = input;
    expect(fast.request.inputs[i]).toEqual(meta);
    const values = fast.data[i]!.values;
    const flat = flattenTensorData(data, values.length, 'data', fast.data[i]!.depth);
    expect(Object.is(values.length, flat.length)).toBe(true);
    for (let k = 0; k < flat.length; k++) {
      if (!Object.is(values[k], flat[k]))
        throw new Error(`${text.slice(0, 200)}: [${k}] ${values[k]} vs ${flat[k]}`);
    }
  }
  return true;
}

const body = (data: unknown, extra = '') =>
  `{"inputs":[{"name":"input","shape":[1,1,28,28],"datatype":"FP32","data":${JSON.stringify(data)}}]${extra}}`;

/** A deterministic generator (the test must not depend on Math.random's luck). */
function random(seed: number) {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe('parseV2Json (the JSON fast path)', () => {
  it('reads what clients send: flat or nested, with id, outputs and parameters', () => {
    const pixels = Array.from({ length: 784 }, (_, i) => (i % 7 === 0 ? (i * 37) / 255 : 0));
    expect(agree(body(pixels))).toBe(true);
    const nested = [[Array.from({ length: 28 }, (_, r) => pixels.slice(r * 28, r * 28 + 28))]];
    expect(agree(body(nested))).toBe(true);
    expect(agree(body(pixels, ',"id":"a\\"b\\u00e9","outputs":[{"name":"probabilities"}]'))).toBe(true);
    expect(
      agree(
        body(
          pixels,
          ',"outputs":[{"name":"probabilities","parameters":{"binary_data":false}}],"parameters":{"binary_data_output":true}',
        ),
      ),
    ).toBe(true);
    expect(
      agree(
        ` \n{ "inputs" : [ { "data" : [ [ 1 , 2 ] , [ ] ] , "shape" : [ 2 ] , "name" : "x" , "datatype" : "FP32" } ] } \t`,
      ),
    ).toBe(true);
    expect(parseV2Json(body([[1, 2], [3]]))?.data[0]?.depth).toBe(2);
  });

  it('reads every number exactly as JSON.parse, then FP32', () => {
    const next = random(42);
    const forms: ((x: number) => string)[] = [
      (x) => String(x),
      (x) => x.toExponential(),
      (x) => x.toExponential(Math.floor(next() * 20)),
      (x) => x.toFixed(Math.floor(next() * 25)),
      (x) => x.toPrecision(1 + Math.floor(next() * 21)),
    ];
    for (let round = 0; round < 200; round++) {
      const values: string[] = [];
      for (let k = 0; k < 100; k++) {
        const magnitude = 10 ** (Math.floor(next() * 88) - 50); // within FP32 range
        const x = (next() - 0.5) * magnitude;
        values.push(forms[Math.floor(next() * forms.length)]!(x));
      }
      // Digit strings of every length, and the edges of the fast conversion.
      values.push(
        '9007199254740993',
        '9007199254740992',
        '0.9007199254740993',
        '-0',
        '-0.0e5',
        '1e22',
        '1e23',
        '123456789012345678901234567890',
        '0.000000000000000000000000000001',
        `0.${'1'.repeat(40)}`,
        '3.4028234663852886e38',
        // The largest double FP32 still rounds to its largest value, not to Infinity.
        String(FP32_OVERFLOW - 2 ** 75),
        `-${FP32_OVERFLOW - 2 ** 75}`,
        '1e-50',
        '0e999999',
      );
      expect(
        agree(
          `{"inputs":[{"name":"i","shape":[${values.length}],"datatype":"FP32","data":[${values.join(',')}]}]}`,
        ),
      ).toBe(true);
    }
  });

  it('reads runs of zeros with any spacing, and FP32 overflows at the right double', () => {
    expect(Math.fround(FP32_OVERFLOW)).toBe(Number.POSITIVE_INFINITY);
    expect(Math.fround(FP32_OVERFLOW - 2 ** 75)).toBe(3.4028234663852886e38);
    const withData = (data: string) =>
      `{"inputs":[{"name":"i","shape":[1],"datatype":"FP32","data":[${data}]}]}`;
    for (const data of ['0,0,0', '0, 0 ,0', '0,\n0,\t0', '0,0,-0', '0,0,0.5', '0,[0,0],0', '[0,0],[0,0]'])
      expect(agree(withData(data)), data).toBe(true);
    for (const data of ['0,0,', '0,,0', '0,00', '00,0', '0,0 0'])
      expect(parseV2Json(withData(data)), data).toBeUndefined();
  });

  it('leaves to the general path anything it does not take, valid or not', () => {
    for (const text of [
      '',
      '{}',
      '[]',
      '{"inputs":[]}',
      body([1, 2], ',"extra":1'),
      body([1, 'x']),
      body([1, null]),
      body([1, true]),
      body([1e39]),
      body([0, FP32_OVERFLOW]),
      body([-FP32_OVERFLOW, 0]),
      '{"inputs":[{"name":"input","shape":[1],"datatype":"FP32","data":[-1e999]}]}',
      body({ a: 1 }),
      body(1),
      body([1, 2], ',"__proto__":{}'),
      body([1, 2], ',"id":"a","id":"b"'),
      '{"inputs":[{"name":"input","shape":[1,-1],"datatype":"FP32","data":[1]}]}',
      '{"inputs":[{"name":"input","shape":[1.5],"datatype":"FP32","data":[1]}]}',
      '{"inputs":[{"name":"input","shape":[],"datatype":"FP32","data":[1]}]}',
      '{"inputs":[{"name":"input","shape":[1],"datatype":"FP32"}]}',
      '{"inputs":[{"name":"input","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":4}}]}',
      '{"inputs":[{"name":"input","shape":[01],"datatype":"FP32","data":[1]}]}',
      '{"inputs":[{"name":"input","shape":[1],"datatype":"FP32","data":[01]}]}',
      '{"inputs":[{"name":"input","shape":[1],"datatype":"FP32","data":[1.]}]}',
      '{"inputs":[{"name":"input","shape":[1],"datatype":"FP32","data":[.5]}]}',
      '{"inputs":[{"name":"input","shape":[1],"datatype":"FP32","data":[+1]}]}',
      '{"inputs":[{"name":"input","shape":[1],"datatype":"FP32","data":[1,]}]}',
      '{"inputs":[{"name":"input","shape":[1],"datatype":"FP32","data":[,1]}]}',
      '{"inputs":[{"name":"input","shape":[1],"datatype":"FP32","data":[1 2]}]}',
      '{"inputs":[{"name":"in\tput","shape":[1],"datatype":"FP32","data":[1]}]}',
      '\ufeff{"inputs":[{"name":"input","shape":[1],"datatype":"FP32","data":[1]}]}',
      '{"inputs":[{"name":"input","shape":[1],"datatype":"FP32","data":[1]}]} x',
      '{"inputs":[{"name":"input","shape":[1],"datatype":"FP32","data":[1]}],"parameters":{"binary_data_output":1}}',
      '{"inputs":[{"name":"input","shape":[1],"datatype":"FP32","data":[1]}],"outputs":[{}]}',
    ]) {
      expect(parseV2Json(text), text).toBeUndefined();
    }
  });

  it('leaves a body nesting deeper than maxJsonDepth to the general path, which refuses it', () => {
    const nested = (levels: number) => body(JSON.parse(`${'['.repeat(levels)}0${']'.repeat(levels)}`));
    expect(parseV2Json(nested(61))?.data[0]?.depth).toBe(61); // 3 levels above it: the body, inputs, the input
    expect(parseV2Json(nested(62))).toBeUndefined();
    expect(parseBytes(Buffer.from(nested(20)), 16)).toBeUndefined();
  });

  it('never reads a body differently from the general path (mutated bodies)', () => {
    const next = random(7);
    const seeds = [
      body([0, 0.5, 1, 0.25, 1e-7, 3.25e2, -0]),
      body(
        [
          [
            [0, 1],
            [2, 3],
          ],
        ],
        ',"id":"x","outputs":[{"name":"p","parameters":{"binary_data":true}}]',
      ),
    ];
    const alphabet = '[]{},:"0123456789.eE+- \\ntrufalsxid';
    let accepted = 0;
    for (let round = 0; round < 20_000; round++) {
      let text = seeds[round % seeds.length]!;
      for (let edits = 1 + Math.floor(next() * 3); edits > 0; edits--) {
        const at = Math.floor(next() * text.length);
        const char = alphabet[Math.floor(next() * alphabet.length)]!;
        const kind = next();
        if (kind < 0.33) text = text.slice(0, at) + text.slice(at + 1);
        else if (kind < 0.66) text = text.slice(0, at) + char + text.slice(at);
        else text = text.slice(0, at) + char + text.slice(at + 1);
      }
      if (agree(text)) accepted++;
    }
    expect(accepted).toBeGreaterThan(100);
  });
});
