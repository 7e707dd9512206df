/** A job's input once loaded: N images of 28x28 uint8 (white digit on black, row-major), maybe labelled. */
export interface LoadedInput {
  count: number;
  labels?: Uint8Array;
  /**
   * Images [start, start+n) as n*784 bytes. Array-backed inputs return a view; synthetic input
   * renders on demand, so a million-digit job never holds its images in memory.
   */
  read(start: number, n: number): Uint8Array;
}

/** An input backed by one N*784 array. */
export function arrayInput(images: Uint8Array, count: number, labels?: Uint8Array): LoadedInput {
  return {
    count,
    ...(labels ? { labels } : {}),
    read: (start, n) => images.subarray(start * 784, (start + n) * 784),
  };
}

/** The first `limit` images of an input (all when limit is undefined). */
export function applyLimit(input: LoadedInput, limit: number | undefined): LoadedInput {
  if (limit === undefined || limit >= input.count) return input;
  return {
    count: limit,
    ...(input.labels ? { labels: input.labels.subarray(0, limit) } : {}),
    read: (start, n) => input.read(start, Math.min(n, limit - start)),
  };
}
