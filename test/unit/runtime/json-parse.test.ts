import { afterEach, describe, expect, it } from 'vitest';
import { JSON_BYTES_PER_UNIT } from '../../../src/api/runtime-limits.ts';
import { Pixels } from '../../../src/api/ws.ts';
import { OverloadedError } from '../../../src/runtime/errors.ts';
import { type ParsedJson, parseBinaryHeader, parseJsonBody } from '../../../src/runtime/http/json-parse.ts';
import { checkTensorData, flattenTensorData } from '../../../src/runtime/http/tensor.ts';
import { jsonDepthError } from '../../../src/runtime/json-depth.ts';
import { limitsConfigShape } from '../../../src/runtime/limits.ts';
import { PreprocessPool } from '../../../src/runtime/preprocess/pool.ts';

// A JSON body parses to the same thing on the event loop and on a preprocessing thread, and the
// V2 data the parser reads in advance gives the handler exactly the answers it would give from the
// raw data (the same values, the same error messages in the same order).

const maxJsonDepth = limitsConfigShape.maxJsonDepth.parse(undefined);
const parse = (text: string, v2 = true) => parseJsonBody(Buffer.from(text), v2, maxJsonDepth);

/** A V2 body the fast path does not take (an input `parameters` member), so the general path reads it. */
const generalBody = (data: unknown, shape = [1, 1, 28, 28]) =>
  JSON.stringify({ inputs: [{ name: 'input', shape, datatype: 'FP32', parameters: {}, data }] });

/** The handler's answer from raw data, and from the data read in advance: a result or a message. */
const outcome = (read: () => Float32Array) => {
  try {
    return Array.from(read());
  } catch (error) {
    return (error as Error).message;
  }
};

describe('parseJsonBody', () => {
  it('reads the V2 data in advance to the answers flattenTensorData gives from the raw data', () => {
    const digit = Array.from({ length: 784 }, (_, i) => (i % 255) / 255);
    const rows = Array.from({ length: 28 }, (_, r) => digit.slice(r * 28, r * 28 + 28));
    const cases: unknown[][] = [
      digit,
      [[rows]],
      [rows],
      [[[[[[1]]]]]],
      digit.slice(1),
      [...digit, 0.5],
      [[1, 2], 3, [[4]]],
      [],
      [[], [[]]],
      [3.4e38, -3.4e38, 1e-46, -0],
    ];
    for (const written of cases) {
      const data = JSON.parse(JSON.stringify(written)) as unknown[]; // as the body carries it (-0 is 0)
      const parsed = parse(generalBody(data));
      expect(parsed.kind).toBe('json');
      const { json, data: read } = parsed as Extract<ParsedJson, { kind: 'json' }>;
      expect(read, JSON.stringify(data).slice(0, 80)).toBeDefined();
      expect((json as { inputs: object[] }).inputs[0]).not.toHaveProperty('data');
      for (const expected of [784, data.length, 1])
        for (const rank of [1, 2, 4]) {
          const raw = outcome(() => flattenTensorData(data, expected, 'inputs[0].data', rank));
          const early = outcome(() =>
            checkTensorData(read!.values, read!.depth, expected, 'inputs[0].data', rank),
          );
          expect(early, `${JSON.stringify(data).slice(0, 80)} expected ${expected} rank ${rank}`).toEqual(
            raw,
          );
        }
    }
  });

  it('leaves the data in place when the handler would say something about it or never read it', () => {
    const kept = (text: string) => {
      const parsed = parse(text);
      expect(parsed.kind, text).toBe('json');
      expect((parsed as { data?: unknown }).data, text).toBeUndefined();
      expect((parsed as { json: { inputs: { data?: unknown }[] } }).json.inputs[0]).toHaveProperty('data');
    };
    kept(generalBody([1, null, 2])); // not a number: flattenTensorData names it
    kept(generalBody([1, 'a']));
    kept(generalBody([1, 1e39])); // outside FP32: named too
    kept(generalBody([[1], { x: 1 }]));
    const input = { name: 'input', shape: [1], datatype: 'FP32', parameters: {}, data: [1] };
    kept(JSON.stringify({ inputs: [input, input] })); // two inputs: refused before the data is read
    kept(JSON.stringify({ inputs: [{ ...input, parameters: { binary_data_size: 4 } }] }));
    // Off the V2 route nothing is read in advance.
    const plain = parseJsonBody(Buffer.from(generalBody([1])), false, maxJsonDepth);
    expect(plain).toEqual({ kind: 'json', json: JSON.parse(generalBody([1])) });
  });

  it('reads /v1/predict pixels as Float64Arrays, which the Pixels check answers as it answers arrays', () => {
    const pixels = Array.from({ length: 784 }, (_, i) => (i * 13) % 256);
    const one = parse(JSON.stringify({ pixels }), false) as { json: { pixels: unknown } };
    expect(one.json.pixels).toBeInstanceOf(Float64Array);
    expect(Array.from(one.json.pixels as Float64Array)).toEqual(pixels);
    const many = parse(
      JSON.stringify({ instances: [{ pixels }, { pixels: [1, 'x'] }, { image: 'AAAA' }] }),
      false,
    ) as { json: { instances: { pixels?: unknown }[] } };
    expect(many.json.instances[0]!.pixels).toBeInstanceOf(Float64Array);
    expect(many.json.instances[1]!.pixels).toEqual([1, 'x']); // left for the check to name
    const answer = (value: unknown) => {
      const result = Pixels.safeParse(value);
      return result.success ? 'ok' : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    const variants = [
      pixels,
      pixels.slice(1),
      [...pixels.slice(0, 5), 256, ...pixels.slice(6)],
      [...pixels.slice(0, 783), -1],
    ];
    for (const variant of variants) expect(answer(Float64Array.from(variant))).toEqual(answer(variant));
    expect(answer(pixels)).toBe('ok');
  });

  it("reads a binary body's JSON header as the handler did, the data in advance only with nothing after it", () => {
    const header = (text: string, rest: boolean) => parseBinaryHeader(Buffer.from(text), maxJsonDepth, rest);
    const body = JSON.stringify({ inputs: [{ name: 'input', shape: [1], datatype: 'FP32', data: [0.5] }] });
    expect(header(body, true)).toMatchObject({ kind: 'json', data: { depth: 1 } });
    expect(header(body, false)).toEqual({ kind: 'json', json: JSON.parse(body) });
    let complaint = '';
    try {
      JSON.parse('{"inputs":');
    } catch (error) {
      complaint = (error as Error).message;
    }
    expect(header('{"inputs":', true)).toEqual({
      kind: 'refused',
      message: `body: the JSON header does not parse (${complaint})`,
    });
    const deep = `{"inputs":[{"data":${'['.repeat(100)}${']'.repeat(100)}}]}`;
    expect(header(deep, true)).toEqual({ kind: 'refused', message: jsonDepthError(deep, maxJsonDepth) });
  });

  it('takes the fast path for the common shape, as the V2 route always did', () => {
    const parsed = parse(
      JSON.stringify({ inputs: [{ name: 'input', shape: [1], datatype: 'FP32', data: [0.5] }] }),
    );
    expect(parsed.kind).toBe('fast');
  });

  it("refuses what fastify's own parser refuses, and nesting over maxJsonDepth before parsing", () => {
    expect(parse('')).toEqual({ kind: 'empty' });
    expect(parse('{"inputs": [')).toEqual({ kind: 'invalid' });
    expect(parse('{"__proto__": {"x": 1}}', false)).toEqual({ kind: 'invalid' });
    expect(parse('{"constructor": {"prototype": {"x": 1}}}', false)).toEqual({ kind: 'invalid' });
    const deep = `{"inputs":[{"data":${'['.repeat(100)}${']'.repeat(100)}}]}`;
    expect(parse(deep)).toEqual({ kind: 'tooDeep', message: jsonDepthError(deep, maxJsonDepth) });
    expect(jsonDepthError(deep, maxJsonDepth)).toMatch(/^inputs\[0\]\.data: JSON nested deeper than 64/);
  });
});

describe('PreprocessPool.parseJson (a body parsed on a preprocessing thread)', () => {
  let pool: PreprocessPool | undefined;
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });

  /** The largest V2 body maxV2Batch allows, as a client's JSON.stringify writes it. */
  const largest = (extra: object = {}) =>
    JSON.stringify({
      inputs: [
        {
          name: 'input',
          shape: [1024, 1, 28, 28],
          datatype: 'FP32',
          ...extra,
          data: Array.from({ length: 1024 * 784 }, (_, i) => ((i * 7919) % 255) / 255),
        },
      ],
    });

  it('parses on the thread to what the event loop would, the body moved there, not copied', async () => {
    pool = new PreprocessPool(1, 100_000_000);
    for (const text of [largest(), largest({ parameters: {} })]) {
      const bytes = new Uint8Array(Buffer.from(text));
      const onLoop = parseJsonBody(bytes, true, maxJsonDepth);
      const offLoop = await pool.parseJson(bytes, true, maxJsonDepth);
      expect(bytes.byteLength).toBe(0); // its buffer went to the thread
      // The same request and the same values, bit for bit (compared as bytes: toEqual on 800k
      // floats would take seconds).
      const tensor = (parsed: ParsedJson) => {
        if (parsed.kind === 'fast') return { rest: parsed.body.request, data: parsed.body.data[0]! };
        if (parsed.kind === 'json' && parsed.data) return { rest: parsed.json, data: parsed.data };
        throw new Error(`not read: ${parsed.kind}`);
      };
      const a = tensor(onLoop);
      const b = tensor(offLoop);
      expect(offLoop.kind).toBe(onLoop.kind);
      expect(b.rest).toEqual(a.rest);
      expect(b.data.depth).toBe(a.data.depth);
      const bytesOf = (values: Float32Array) =>
        Buffer.from(values.buffer, values.byteOffset, values.byteLength);
      expect(bytesOf(b.data.values).equals(bytesOf(a.data.values))).toBe(true);
      expect(b.data.values).toHaveLength(1024 * 784);
    }
    const invalid = Buffer.from(`${largest()}]`);
    expect(await pool.parseJson(invalid, true, maxJsonDepth)).toEqual({ kind: 'invalid' });
    expect(pool.pendingCost).toBe(0);
  }, 60_000);

  it('counts the body against the preprocessing queue: 503 when it does not fit', async () => {
    const bytes = Buffer.from(largest());
    const cost = Math.ceil(bytes.length / JSON_BYTES_PER_UNIT);
    pool = new PreprocessPool(1, cost - 1);
    await expect(pool.parseJson(bytes, true, maxJsonDepth)).rejects.toBeInstanceOf(OverloadedError);
    await pool.close();
    pool = new PreprocessPool(1, cost);
    const parsing = pool.parseJson(bytes, true, maxJsonDepth);
    expect(pool.pendingCost).toBe(cost);
    expect((await parsing).kind).toBe('fast');
    expect(pool.pendingCost).toBe(0);
  }, 60_000);
});
