import { z } from 'zod';

/**
 * Wire schemas of the job runner (`kinfer job`): its REST snapshot `GET /v1/jobs/{name}` and the
 * preview stream `/ws/jobs/{name}`. The operator, `kinfer watch` and the demo page parse these.
 */

/** The runner's own phase; `Loading` is reading the input (the InferenceJob shows Running by then). */
export const runnerPhases = ['Loading', 'Running', 'Succeeded', 'Failed'] as const;
export const RunnerPhase = z.enum(runnerPhases);
export type RunnerPhase = z.infer<typeof RunnerPhase>;

export const JobProgress = z.object({
  processed: z.number().int().min(0),
  total: z.number().int().min(0),
  /** Whole percent, rounded down (100 only when every image is done). */
  percent: z.number().int().min(0).max(100),
});
export type JobProgress = z.infer<typeof JobProgress>;

export const JobResult = z.object({
  /** How many images were predicted as each digit 0..9. */
  classCounts: z.array(z.number().int().min(0)).length(10),
  /** Fraction of labelled images predicted correctly; absent when the input has no labels. */
  accuracy: z.number().min(0).max(1).optional(),
  /** How many of the images carried a label (accuracy is over these). */
  labelled: z.number().int().min(0),
  imagesPerSecond: z.number().min(0),
  /** Latency of one batch request to the model, in milliseconds. */
  latencyMs: z.object({ p50: z.number().min(0), p99: z.number().min(0) }),
  /** Batch requests that were sent again after a 503, 429 or connection error. */
  retries: z.number().int().min(0),
  durationMs: z.number().min(0),
});
export type JobResult = z.infer<typeof JobResult>;

/** Error codes of a failed job, fixed so that clients can branch on them. */
export const jobErrorCodes = [
  'input_invalid',
  'input_unavailable',
  'model_unavailable',
  'inference_failed',
  'internal',
] as const;
export const JobErrorCode = z.enum(jobErrorCodes);
export type JobErrorCode = z.infer<typeof JobErrorCode>;

export const JobError = z.object({ code: JobErrorCode, message: z.string() });
export type JobError = z.infer<typeof JobError>;

/** `GET /v1/jobs/{name}`: the runner's current state; the operator copies it into the status. */
export const JobSnapshot = z.object({
  name: z.string(),
  namespace: z.string(),
  phase: RunnerPhase,
  progress: JobProgress,
  /** The seq of the newest message on the preview stream. */
  seq: z.number().int().min(0),
  startTime: z.iso.datetime().optional(),
  completionTime: z.iso.datetime().optional(),
  /** Partial while running, final once Succeeded. */
  result: JobResult.optional(),
  error: JobError.optional(),
});
export type JobSnapshot = z.infer<typeof JobSnapshot>;

/** The kubelet keeps at most this many bytes of a container's termination message. */
export const terminationMessageLimit = 4096;

/**
 * What the runner leaves in its container's termination message when it exits: its final snapshot
 * (without the stream's seq), as compact JSON of at most `terminationMessageLimit` bytes. The
 * operator reads it from the pod's `state.terminated.message` when the Job finished before it
 * could read the runner's REST endpoint (a short job, an operator restart).
 */
export const JobTerminationSummary = JobSnapshot.omit({ seq: true }).extend({
  phase: z.enum(['Succeeded', 'Failed']),
});
export type JobTerminationSummary = z.infer<typeof JobTerminationSummary>;

const envelope = {
  jobId: z.string(),
  /** Per-job, strictly increasing from 1; a resumed client skips any seq it has already seen. */
  seq: z.number().int().min(1),
  /** Milliseconds since the epoch when the runner produced the message. */
  ts: z.number(),
};

export const ProgressMessage = z.object({ type: z.literal('progress'), ...envelope, ...JobProgress.shape });

/**
 * A mosaic of the most recent digits: `payload` is base64 of a row-major `shape` = [height, width]
 * array of `dtype` values; `scale` is the value that means full intensity (255 for uint8), white
 * digit on black. Tile i (row-major in the grid of `grid.cols` columns, `grid.cell` pixels square)
 * shows the image predicted as `labels[i]`; `indices[i]` is its position in the job's input.
 */
export const PreviewMessage = z.object({
  type: z.literal('preview'),
  ...envelope,
  scale: z.number().positive(),
  shape: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  dtype: z.literal('uint8'),
  payload: z.base64(),
  grid: z.object({
    rows: z.number().int().positive(),
    cols: z.number().int().positive(),
    cell: z.number().int().positive(),
  }),
  labels: z.array(z.number().int().min(0).max(9)),
  indices: z.array(z.number().int().min(0)),
});

export const CompletedMessage = z.object({
  type: z.literal('completed'),
  ...envelope,
  summary: z.object({ progress: JobProgress, result: JobResult }),
});

export const ErrorMessage = z.object({ type: z.literal('error'), ...envelope, ...JobError.shape });

export const JobServerMessage = z.discriminatedUnion('type', [
  ProgressMessage,
  PreviewMessage,
  CompletedMessage,
  ErrorMessage,
]);
export type JobServerMessage = z.infer<typeof JobServerMessage>;
export type ProgressMessage = z.infer<typeof ProgressMessage>;
export type PreviewMessage = z.infer<typeof PreviewMessage>;
export type CompletedMessage = z.infer<typeof CompletedMessage>;
export type ErrorMessage = z.infer<typeof ErrorMessage>;

/** Client to server: replay every buffered message after `afterSeq`, then continue live. */
export const ResumeMessage = z.object({ type: z.literal('resume'), afterSeq: z.number().int().min(0) });
export const JobClientMessage = z.discriminatedUnion('type', [ResumeMessage]);
export type JobClientMessage = z.infer<typeof JobClientMessage>;

/** Close codes of the preview stream. */
export const jobCloseCodes = {
  /** The runner is shutting down after its linger period. */
  goingAway: 1001,
  /** A client frame that is not a valid JobClientMessage (the reason names the field). */
  invalidMessage: 1007,
} as const;
