import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { jsonBodyParser, ReadV2Body } from '../../../src/runtime/http/json-body.ts';
import { limitsConfigShape } from '../../../src/runtime/limits.ts';

const maxJsonDepth = limitsConfigShape.maxJsonDepth.parse(undefined);
const notOffLoop = () => Promise.reject(new Error('not expected off the loop'));
/** What the parser answers for `bytes`. */
const parse = (bytes: Buffer, v2 = true) =>
  new Promise<unknown>((resolve, reject) =>
    jsonBodyParser(maxJsonDepth, v2, notOffLoop)({} as FastifyRequest, bytes, (error, body) =>
      error ? reject(error) : resolve(body),
    ),
  );
/** `text` in memory of its own, as Node's HTTP parser gives a body that came in one piece. */
const own = (text: string) => Buffer.from(new Uint8Array(Buffer.from(text)).buffer);

/** Its ArrayBuffer was detached (ES2024's `detached`, which TypeScript's ES2023 library lacks). */
const detached = (bytes: Uint8Array) => (bytes.buffer as ArrayBuffer & { detached: boolean }).detached;

describe('jsonBodyParser', () => {
  it('frees a body parsed on the event loop at once, the parsed request intact', async () => {
    // Nothing parsed refers to the bytes (numbers and strings are copies): their memory, which
    // would count as external memory on the event loop's isolate until a collection, goes now.
    const digit = Array.from({ length: 784 }, (_, i) => (i % 255) / 255);
    const bytes = own(
      JSON.stringify({
        id: 'a',
        inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', data: digit }],
      }),
    );
    const body = (await parse(bytes)) as ReadV2Body;
    expect(detached(bytes)).toBe(true);
    expect(body).toBeInstanceOf(ReadV2Body);
    expect(body.request).toMatchObject({ id: 'a', inputs: [{ name: 'input', shape: [1, 1, 28, 28] }] });
    expect(Array.from(body.data!.values)).toEqual(Array.from(Float32Array.from(digit)));
    // The general path (not a V2 body) too.
    const plain = own(JSON.stringify({ name: 'x', values: [1, 2] }));
    expect(await parse(plain, false)).toEqual({ name: 'x', values: [1, 2] });
    expect(detached(plain)).toBe(true);
  });

  it('leaves a slice of a larger buffer alone (Node keeps small Buffers in one shared pool)', async () => {
    const pooled = Buffer.from('{"a":1}');
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.length);
    expect(await parse(pooled, false)).toEqual({ a: 1 });
    expect(detached(pooled)).toBe(false);
    expect(pooled.toString()).toBe('{"a":1}');
  });
});
