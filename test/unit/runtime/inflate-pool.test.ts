import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { JSON_BYTES_PER_UNIT } from '../../../src/api/runtime-limits.ts';
import { OverloadedError } from '../../../src/runtime/errors.ts';
import { PreprocessPool } from '../../../src/runtime/preprocess/pool.ts';

describe('PreprocessPool.inflate (a compressed body inflated on a preprocessing thread)', () => {
  let pool: PreprocessPool | undefined;
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });
  const MiB = 1024 * 1024;

  it('inflates there, the compressed bytes moved there and the inflated ones back', async () => {
    pool = new PreprocessPool(1, 100_000_000);
    const body = Buffer.from(JSON.stringify(Array.from({ length: 200_000 }, (_, i) => i % 977)));
    const compressed = new Uint8Array(gzipSync(body));
    const inflated = await pool.inflate(compressed, 'gzip', 32 * MiB);
    expect(compressed.byteLength).toBe(0); // its buffer went to the thread
    expect(inflated.kind).toBe('inflated');
    if (inflated.kind !== 'inflated') return;
    expect(inflated.bytes.byteLength).toBe(inflated.bytes.buffer.byteLength); // its own buffer, moved
    expect(Buffer.from(inflated.bytes).equals(body)).toBe(true);
    // A small compressed Buffer from Node's shared pool (which cannot move) is copied instead.
    const small = await pool.inflate(gzipSync(Buffer.from('[1]')), 'gzip', 32 * MiB);
    expect(small.kind === 'inflated' && Buffer.from(small.bytes).toString()).toBe('[1]');
    expect(pool.pendingCost).toBe(0);
  });

  it('a bomb is tooLarge, bad data invalid; counted as a body of maxBytes, 503 when that does not fit', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * MiB));
    const cost = Math.ceil((32 * MiB) / JSON_BYTES_PER_UNIT);
    pool = new PreprocessPool(1, cost - 1);
    await expect(pool.inflate(bomb, 'gzip', 32 * MiB)).rejects.toBeInstanceOf(OverloadedError);
    await pool.close();
    pool = new PreprocessPool(1, cost);
    const inflating = pool.inflate(bomb, 'gzip', 32 * MiB);
    expect(pool.pendingCost).toBe(cost);
    expect(await inflating).toEqual({ kind: 'tooLarge' });
    expect(await pool.inflate(Buffer.from('not gzip'), 'deflate', MiB)).toEqual({
      kind: 'invalid',
      message: 'incorrect header check',
    });
    expect(pool.pendingCost).toBe(0);
  }, 60_000);
});
