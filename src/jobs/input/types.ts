/** A job's input once loaded: N images of 28x28 uint8 (white digit on black, row-major), maybe labelled. */
export interface LoadedInput {
  images: Uint8Array;
  labels?: Uint8Array;
  count: number;
}

/** The first `limit` images of an input (all when limit is undefined). */
export function applyLimit(input: LoadedInput, limit: number | undefined): LoadedInput {
  if (limit === undefined || limit >= input.count) return input;
  return {
    images: input.images.subarray(0, limit * 784),
    ...(input.labels ? { labels: input.labels.subarray(0, limit) } : {}),
    count: limit,
  };
}
