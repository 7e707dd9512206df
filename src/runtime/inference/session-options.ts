import type { InferenceSession } from 'onnxruntime-node';

/**
 * The options every inference worker creates its session with (one session per thread, its
 * `intraOpNumThreads`, no inter-op pool), also used by the benchmarks that measure onnxruntime
 * alone, so that "raw" is the same session the runtime runs.
 */
export const sessionOptions = (intraOpNumThreads: number): InferenceSession.SessionOptions => ({
  intraOpNumThreads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
});
