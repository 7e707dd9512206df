import { EventEmitter, once } from 'node:events';
import { Readable } from 'node:stream';
import { deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  decodeContentEncoding,
  LOOP_INFLATE_BYTES,
  type OffLoopInflater,
} from '../../../src/runtime/http/content-encoding.ts';
import { inflateBody } from '../../../src/runtime/http/inflate.ts';

const MiB = 1024 * 1024;
const bodyLimit = 32 * MiB;

/** An off-loop inflater that inflates here (as a preprocessing thread would) and counts its calls. */
function offLoopSpy() {
  const calls: { bytes: number; format: string; maxBytes: number }[] = [];
  const offLoop: OffLoopInflater = async (compressed, format, maxBytes) => {
    calls.push({ bytes: compressed.length, format, maxBytes });
    return inflateBody(compressed, format, maxBytes);
  };
  return { calls, offLoop };
}

/** What the decoded stream gives: its bytes, or the error it ends with. */
async function read(
  encoding: string,
  chunks: Buffer[],
  offLoop: OffLoopInflater,
  response = new EventEmitter(),
): Promise<{ body?: Buffer; error?: Error & { statusCode?: number; code?: string } }> {
  const decoded = decodeContentEncoding(encoding, Readable.from(chunks), response, { bodyLimit, offLoop });
  const pieces: Buffer[] = [];
  try {
    for await (const piece of decoded) pieces.push(piece as Buffer);
  } catch (error) {
    return { error: error as Error };
  }
  return { body: Buffer.concat(pieces) };
}

const digits = (count: number) =>
  Buffer.from(
    JSON.stringify({
      inputs: [
        { name: 'input', data: Array.from({ length: count * 784 }, (_, i) => ((i * 7919) % 255) / 255) },
      ],
    }),
  );

describe('decodeContentEncoding', () => {
  it('inflates a small gzip or deflate body on the event loop, as it streams', async () => {
    const body = digits(1);
    const { calls, offLoop } = offLoopSpy();
    expect((await read('gzip', [gzipSync(body)], offLoop)).body?.equals(body)).toBe(true);
    const compressed = deflateSync(body);
    const halves = [compressed.subarray(0, 100), compressed.subarray(100)];
    expect((await read('Deflate', halves, offLoop)).body?.equals(body)).toBe(true);
    expect(calls).toEqual([]);
  });

  it('inflates a body that inflates past LOOP_INFLATE_BYTES off the loop, whole, once', async () => {
    const body = digits(64); // ~1 MB
    expect(body.length).toBeGreaterThan(LOOP_INFLATE_BYTES);
    const compressed = gzipSync(body);
    const { calls, offLoop } = offLoopSpy();
    // In pieces, as a socket delivers it.
    const pieces = [];
    for (let at = 0; at < compressed.length; at += 16 * 1024)
      pieces.push(compressed.subarray(at, at + 16 * 1024));
    expect((await read('x-gzip', pieces, offLoop)).body?.equals(body)).toBe(true);
    expect(calls).toEqual([{ bytes: compressed.length, format: 'gzip', maxBytes: bodyLimit }]);
  });

  it('a bomb is a 413 from the off-loop inflater, the loop having given it up', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * MiB)); // ~64 KB
    const { calls, offLoop } = offLoopSpy();
    const { error } = await read('gzip', [bomb], offLoop);
    expect(error).toMatchObject({ statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
    expect(calls).toEqual([{ bytes: bomb.length, format: 'gzip', maxBytes: bodyLimit }]);
  });

  it('a body that is not valid gzip is a 400 naming zlib’s complaint, on the loop or off it', async () => {
    const { offLoop } = offLoopSpy();
    const { error } = await read('gzip', [Buffer.from('{"not":"gzip"}')], offLoop);
    expect(error).toMatchObject({
      statusCode: 400,
      message: 'body: not valid gzip data (incorrect header check)',
    });
    const noisy = Buffer.from(JSON.stringify(Array.from({ length: 100_000 }, () => Math.random())));
    const truncated = gzipSync(noisy).subarray(0, 300_000); // inflates past the loop's share
    expect(truncated.length).toBe(300_000);
    const cut = await read('gzip', [truncated], offLoop);
    expect(cut.error).toMatchObject({
      statusCode: 400,
      message: 'body: not valid gzip data (unexpected end of file)',
    });
    const empty = await read('deflate', [], offLoop);
    expect(empty.error).toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(/^body: not valid deflate data/),
    });
  });

  it('compressed bytes over the body limit are a 413 before anything goes off the loop', async () => {
    const { calls, offLoop } = offLoopSpy();
    const noise = Buffer.alloc(MiB, 7);
    const decoded = decodeContentEncoding('gzip', Readable.from(Array(33).fill(noise)), new EventEmitter(), {
      bodyLimit,
      offLoop,
    });
    const [error] = (await once(decoded, 'error')) as [Error & { statusCode?: number }];
    // Not gzip either: whichever comes first, the answer is a 4xx and nothing is inflated off the loop.
    expect([400, 413]).toContain(error.statusCode);
    expect(calls).toEqual([]);
    const limited = decodeContentEncoding('gzip', Readable.from([gzipSync(digits(64))]), new EventEmitter(), {
      bodyLimit: 1000,
      offLoop,
    });
    const [tooLarge] = (await once(limited, 'error')) as [Error & { statusCode?: number }];
    expect(tooLarge.statusCode).toBe(413);
    expect(calls).toEqual([]);
  });

  it('reads and inflates nothing more once the response has closed', async () => {
    const { calls, offLoop } = offLoopSpy();
    const response = new EventEmitter();
    const source = new Readable({ read() {} });
    const decoded = decodeContentEncoding('gzip', source, response, { bodyLimit, offLoop });
    decoded.on('error', () => {});
    source.push(gzipSync(Buffer.alloc(64 * MiB)));
    response.emit('close');
    source.push(null);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(decoded.destroyed).toBe(true);
    expect(source.listenerCount('data')).toBe(0);
    expect(calls).toEqual([]);
  });

  it('415 for an encoding other than gzip, deflate or identity; identity is the body itself', () => {
    const { offLoop } = offLoopSpy();
    const payload = Readable.from([]);
    expect(decodeContentEncoding('identity', payload, new EventEmitter(), { bodyLimit, offLoop })).toBe(
      payload,
    );
    expect(() => decodeContentEncoding('br', payload, new EventEmitter(), { bodyLimit, offLoop })).toThrow(
      expect.objectContaining({ statusCode: 415, message: expect.stringMatching(/^content-encoding: "br"/) }),
    );
  });
});

describe('inflateBody', () => {
  it('inflates up to exactly maxBytes, and no further', () => {
    const body = Buffer.alloc(MiB + 1, 1);
    const inflated = inflateBody(gzipSync(body), 'gzip', MiB + 1);
    expect(inflated.kind === 'inflated' && Buffer.from(inflated.bytes).equals(body)).toBe(true);
    expect(inflateBody(gzipSync(body), 'gzip', MiB)).toEqual({ kind: 'tooLarge' });
    expect(inflateBody(deflateSync(body), 'deflate', MiB)).toEqual({ kind: 'tooLarge' });
  });

  it('names what is wrong with data that is not gzip or deflate', () => {
    expect(inflateBody(Buffer.from('plain'), 'gzip', MiB)).toEqual({
      kind: 'invalid',
      message: 'incorrect header check',
    });
    expect(inflateBody(gzipSync(Buffer.from('x')), 'deflate', MiB)).toMatchObject({ kind: 'invalid' });
  });
});
