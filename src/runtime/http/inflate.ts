import { gunzipSync, inflateSync } from 'node:zlib';

/** The two compressed formats a request body may come in (`x-gzip` is gzip). */
export type CompressedFormat = 'gzip' | 'deflate';

/**
 * A compressed request body inflated whole, computed the same way wherever it runs (on a
 * preprocessing thread for bodies that inflate past what the event loop inflates itself, see
 * content-encoding.ts): its bytes, `tooLarge` when they would be more than `maxBytes` (no more than
 * one piece past the limit is inflated), or `invalid` with zlib's complaint.
 */
export type Inflated =
  | { kind: 'inflated'; bytes: Uint8Array }
  | { kind: 'tooLarge' }
  | { kind: 'invalid'; message: string };

/** 1 MiB pieces: a bomb inflating to the 32 MiB body limit in 32 steps, not zlib's 2,048. */
const PIECE = 1024 * 1024;

export function inflateBody(compressed: Uint8Array, format: CompressedFormat, maxBytes: number): Inflated {
  const options = { chunkSize: PIECE, maxOutputLength: Math.max(1, maxBytes) };
  try {
    const bytes = format === 'gzip' ? gunzipSync(compressed, options) : inflateSync(compressed, options);
    return { kind: 'inflated', bytes };
  } catch (error) {
    const { code, message } = error as Error & { code?: string };
    if (code === 'ERR_BUFFER_TOO_LARGE') return { kind: 'tooLarge' };
    return { kind: 'invalid', message };
  }
}
