import { expect, it } from 'vitest';
import { TokenBucket } from '../../../src/runtime/ws/rate-limit.ts';

it('allows the burst, then the sustained rate', () => {
  let now = 0;
  const bucket = new TokenBucket(10, 3, () => now);
  expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
  now += 100; // one token per 100 ms at 10/s
  expect([bucket.take(), bucket.take()]).toEqual([true, false]);
  now += 10_000; // never more than the burst
  expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
});
