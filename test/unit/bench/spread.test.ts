import { describe, expect, it } from 'vitest';
import { formatSpread, spread } from '../../../bench/support/spread.ts';

describe('spread', () => {
  it('gives the middle value of an odd count, whatever the order', () => {
    expect(spread([0.8, 0.6, 0.7])).toEqual({ median: 0.7, min: 0.6, max: 0.8 });
  });

  it('gives the mean of the middle two of an even count', () => {
    expect(spread([4, 1, 3, 2])).toEqual({ median: 2.5, min: 1, max: 4 });
  });

  it('is NaN for no values, and the value itself for one', () => {
    expect(spread([])).toEqual({ median: Number.NaN, min: Number.NaN, max: Number.NaN });
    expect(spread([5])).toEqual({ median: 5, min: 5, max: 5 });
  });

  it('does not reorder its input', () => {
    const values = [3, 1, 2];
    spread(values);
    expect(values).toEqual([3, 1, 2]);
  });

  it('formats the median, then the range', () => {
    expect(formatSpread(spread([0.76, 0.7, 0.73]), (n) => n.toFixed(2))).toBe('0.73 (0.70-0.76)');
  });
});
