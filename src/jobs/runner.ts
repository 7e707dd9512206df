import type { InferenceJobSpec } from '../api/inferencejob.ts';
import type { JobError, JobProgress, JobSnapshot, RunnerPhase } from '../api/jobs.ts';
import { createLogger, elapsedMs, type Logger } from '../log.ts';
import { JobFailure } from './errors.ts';
import type { LoadedInput } from './input/types.ts';
import { CELL, RecentImages } from './mosaic.ts';
import { defaultRetryPolicy, type RetryPolicy, sendBatches } from './sender.ts';
import { argmax10, ResultAccumulator } from './stats.ts';
import { PreviewStream, type StreamOptions } from './stream.ts';
import type { TensorEncoding } from './v2-codec.ts';

export interface RunnerOptions {
  name: string;
  namespace: string;
  spec: Pick<InferenceJobSpec, 'batchSize' | 'previewIntervalMs'>;
  /** Batch requests in flight at once. */
  concurrency?: number;
  /** How often a `progress` message goes out while images are being classified. */
  progressIntervalMs?: number;
  /** The preview mosaic: how many recent digits, in how many columns. */
  mosaic?: { capacity: number; cols: number };
  retry?: RetryPolicy;
  /** How batches are sent to the model (default binary, falling back to JSON when refused). */
  encoding?: TensorEncoding;
  stream?: StreamOptions;
  logger?: Logger;
}

export const progressOf = (processed: number, total: number): JobProgress => ({
  processed,
  total,
  percent: total === 0 ? 0 : Math.floor((processed * 100) / total),
});

/**
 * One inference job in this process: loads the input, classifies it batch by batch, keeps the
 * result and publishes progress, previews and the outcome on its PreviewStream. I/O is limited to
 * the batch requests; the HTTP/WebSocket side lives in server.ts.
 */
export class JobRunner {
  readonly stream: PreviewStream;
  private phase: RunnerPhase = 'Loading';
  private total = 0;
  private readonly stats = new ResultAccumulator();
  private readonly recent: RecentImages;
  private readonly startTime = new Date();
  private completionTime: Date | undefined;
  private sendStart: number | undefined;
  private sendEnd: number | undefined;
  private error: JobError | undefined;
  private readonly abort = new AbortController();
  private readonly log: Logger;

  constructor(readonly options: RunnerOptions) {
    this.stream = new PreviewStream(options.name, options.stream);
    this.recent = new RecentImages(options.mosaic?.capacity ?? 64);
    this.log = options.logger ?? createLogger('jobs.runner', { job: `${options.namespace}/${options.name}` });
  }

  get done(): boolean {
    return this.phase === 'Succeeded' || this.phase === 'Failed';
  }

  /** Stops the job (SIGTERM): batches in flight are abandoned and the job fails. */
  cancel(reason: string): void {
    this.abort.abort(new JobFailure('internal', reason));
  }

  snapshot(): JobSnapshot {
    return {
      name: this.options.name,
      namespace: this.options.namespace,
      phase: this.phase,
      progress: progressOf(this.stats.processed, this.total),
      seq: this.stream.seq,
      startTime: this.startTime.toISOString(),
      ...(this.completionTime ? { completionTime: this.completionTime.toISOString() } : {}),
      ...(this.sendStart !== undefined ? { result: this.stats.result(this.durationMs()) } : {}),
      ...(this.error ? { error: this.error } : {}),
    };
  }

  /**
   * Runs the job to its end; resolves with the outcome, never rejects. `prepare` loads the input
   * and finds the model's V2 infer URL (`.../v2/models/<model>/infer`); its failure fails the job.
   */
  async run(
    prepare: () => Promise<{ input: LoadedInput; modelEndpoint: string }>,
  ): Promise<'Succeeded' | 'Failed'> {
    let input: LoadedInput;
    let modelEndpoint: string;
    const loadStart = performance.now();
    try {
      ({ input, modelEndpoint } = await prepare());
      if (input.count === 0) throw new JobFailure('input_invalid', 'the input holds no images');
    } catch (error) {
      return this.fail(error, 'input_invalid');
    }
    this.log.info(
      {
        event: 'job.input.loaded',
        images: input.count,
        labelled: Boolean(input.labels),
        elapsedMs: elapsedMs(loadStart),
      },
      'input loaded',
    );
    this.total = input.count;
    this.phase = 'Running';
    this.sendStart = performance.now();
    let lastProgress = -1;
    let lastPreview = 0;
    const publishProgress = (): void => {
      if (this.stats.processed === lastProgress) return;
      lastProgress = this.stats.processed;
      this.stream.publish({ type: 'progress', ...progressOf(this.stats.processed, this.total) });
    };
    const publishPreview = (): void => {
      if (this.recent.version === lastPreview) return;
      lastPreview = this.recent.version;
      this.publishPreview(input);
    };
    publishProgress();
    const progressTimer = setInterval(publishProgress, this.options.progressIntervalMs ?? 250);
    const previewTimer = setInterval(publishPreview, this.options.spec.previewIntervalMs);
    try {
      await sendBatches(input, input.count, {
        endpoint: modelEndpoint,
        batchSize: this.options.spec.batchSize,
        concurrency: this.options.concurrency ?? 4,
        policy: this.options.retry ?? defaultRetryPolicy,
        ...(this.options.encoding ? { encoding: this.options.encoding } : {}),
        signal: this.abort.signal,
        onBatch: ({ index, start, count, probabilities, latencyMs }) => {
          const predictions = Array.from({ length: count }, (_, j) => argmax10(probabilities, j));
          this.stats.record(index, predictions, input.labels?.subarray(start, start + count), latencyMs);
          predictions.forEach((label, j) => {
            this.recent.add(start + j, label);
          });
        },
        onRetry: ({ index, attempt, delayMs, reason }) => {
          this.stats.retries += 1;
          this.log.warn(
            { event: 'job.batch.retry', batch: index, attempt, delayMs: Math.round(delayMs), reason },
            'retrying batch',
          );
        },
        onFallback: ({ index, reason }) => {
          this.log.warn(
            { event: 'job.encoding.fallback', batch: index, reason },
            'the model refused binary tensors but took JSON: sending JSON from now on',
          );
        },
      });
    } catch (error) {
      return this.fail(this.abort.signal.aborted ? this.abort.signal.reason : error, 'internal');
    } finally {
      clearInterval(progressTimer);
      clearInterval(previewTimer);
    }
    this.sendEnd = performance.now();
    publishProgress();
    publishPreview();
    this.phase = 'Succeeded';
    this.completionTime = new Date();
    const result = this.stats.result(this.durationMs());
    this.stream.publish({
      type: 'completed',
      summary: { progress: progressOf(this.stats.processed, this.total), result },
    });
    this.log.info(
      {
        event: 'job.succeeded',
        images: this.total,
        accuracy: result.accuracy,
        imagesPerSecond: Math.round(result.imagesPerSecond),
        retries: result.retries,
        elapsedMs: result.durationMs,
      },
      'job succeeded',
    );
    return 'Succeeded';
  }

  private publishPreview(input: LoadedInput): void {
    const cols = this.options.mosaic?.cols ?? 8;
    const mosaic = this.recent.mosaic((index) => input.read(index, 1), cols);
    if (!mosaic) return;
    this.stream.publish({
      type: 'preview',
      scale: 255,
      shape: [mosaic.rows * CELL, mosaic.cols * CELL],
      dtype: 'uint8',
      payload: Buffer.from(mosaic.pixels.buffer, mosaic.pixels.byteOffset, mosaic.pixels.byteLength).toString(
        'base64',
      ),
      grid: { rows: mosaic.rows, cols: mosaic.cols, cell: CELL },
      labels: mosaic.labels,
      indices: mosaic.indices,
    });
  }

  private durationMs(): number {
    if (this.sendStart === undefined) return 0;
    return Math.round(((this.sendEnd ?? performance.now()) - this.sendStart) * 100) / 100;
  }

  private fail(error: unknown, fallback: JobError['code']): 'Failed' {
    if (this.sendStart !== undefined) this.sendEnd ??= performance.now();
    this.error =
      error instanceof JobFailure
        ? { code: error.code, message: error.message }
        : { code: fallback, message: error instanceof Error ? error.message : String(error) };
    this.phase = 'Failed';
    this.completionTime = new Date();
    this.stream.publish({ type: 'error', ...this.error });
    this.log.error({ event: 'job.failed', code: this.error.code, reason: this.error.message }, 'job failed');
    return 'Failed';
  }
}
