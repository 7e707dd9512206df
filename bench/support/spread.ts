/** The median and the range of repeated measurements of one quantity. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** Median (the mean of the middle two for an even count), minimum and maximum; NaN for none. */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { median, min: sorted[0]!, max: sorted.at(-1)! };
}

/** `0.73 (0.70-0.76)`: the median, then the range, each with `format`. */
export const formatSpread = (s: Spread, format: (n: number) => string): string =>
  `${format(s.median)} (${format(s.min)}-${format(s.max)})`;
