/** Messages between the predictor (main thread) and its inference workers. */

/** Elements per batch row: the product of every dimension after the batch one (symbolic ones as 1). */
export const rowSize = (shape: readonly number[]): number =>
  shape.slice(1).reduce((a, b) => a * Math.max(1, b), 1);

export interface WorkerInit {
  /** The verified model bytes: workers load exactly what was hashed, never the path again. */
  model: Uint8Array;
  intraOpNumThreads: number;
  /** Batch sizes run once before the worker reports ready, so the first requests are not slow. */
  warmupBatchSizes: number[];
}

export interface TensorInfo {
  name: string;
  type: string;
  /** Dimensions with the batch dimension as -1 (symbolic dimensions too). */
  shape: number[];
}

export type WorkerEvent =
  | { type: 'ready'; inputs: TensorInfo[]; outputs: TensorInfo[]; loadMs: number; warmupMs: number }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; output: Float32Array; inferenceMs: number }
  | { type: 'error'; id: number; message: string };

/** Inference only: preprocessing has its own threads (src/runtime/preprocess/pool.ts). */
export type WorkerRequest = { type: 'run'; id: number; data: Float32Array; count: number };
