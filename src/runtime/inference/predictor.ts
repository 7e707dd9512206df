import { availableParallelism } from 'node:os';
import { createLogger, elapsedMs } from '../../log.ts';
import { InferenceFailedError, InvalidInputError, NotReadyError } from '../errors.ts';
import { type CompressedFormat, type Inflated, inflateBody } from '../http/inflate.ts';
import {
  type ParsedBinaryHeader,
  type ParsedJson,
  parseBinaryHeader,
  parseJsonBody,
} from '../http/json-parse.ts';
import type { PreprocessJob } from '../preprocess/jobs.ts';
import { PreprocessPool } from '../preprocess/pool.ts';
import { Batcher, type BatchStats } from './batcher.ts';
import { ModelLoadError, readModel } from './model.ts';
import { type ModelSignature, WorkerPool } from './pool.ts';
import { rowSize } from './protocol.ts';

export type { ModelSignature } from './pool.ts';

/**
 * What every caller (REST, WebSocket, jobs) sees: the served model and a `predict` that takes
 * `count` preprocessed 28x28 images (count*784 floats, 0..1, white on black) and resolves to
 * count*10 probabilities in the same order. Rejects with OverloadedError (code `overloaded`) when
 * the queue is full and NotReadyError (code `not_ready`) before the model is warmed up.
 */
export interface Predictor {
  readonly model: { name: string; sha256: string };
  /**
   * With `transfer`, the caller gives `images` up: its buffer may move to an inference thread
   * without a copy, and be empty here afterwards.
   */
  predict(images: Float32Array, count: number, options?: { transfer?: boolean }): Promise<Float32Array>;
}

/** What the runtime's HTTP layer needs beyond `Predictor`: readiness, the signature, load. */
export interface ServingPredictor extends Predictor {
  readonly ready: boolean;
  readonly loadError: string | undefined;
  readonly signature: ModelSignature | undefined;
  readonly queuedImages: number;
  readonly runningBatches: number;
  onBatch(observer: (stats: BatchStats) => void): () => void;
  /**
   * Preprocesses `jobs` into `jobs.length * 784` floats on the preprocessing threads, never on
   * the event loop; rejects with OverloadedError when their queue is full and with a
   * JobInputError (naming the job) for a bad input.
   */
  preprocess(jobs: PreprocessJob[]): Promise<Float32Array>;
  /**
   * Parses a JSON request body on the preprocessing threads (src/runtime/http/json-parse.ts),
   * counted against their queue (OverloadedError when full); `bytes` may be moved there.
   */
  parseJson(bytes: Uint8Array, v2: boolean, maxJsonDepth: number): Promise<ParsedJson>;
  /** The same for the JSON header of a binary tensor data body; `bytes` move there and back. */
  parseBinaryHeader(
    bytes: Uint8Array,
    headerLength: number,
    maxJsonDepth: number,
  ): Promise<{ header: ParsedBinaryHeader; bytes: Uint8Array }>;
  /**
   * Inflates a compressed request body whole, to at most `maxBytes`, on the preprocessing threads
   * (src/runtime/http/inflate.ts), counted against their queue (OverloadedError when full);
   * `compressed` may be moved there.
   */
  inflate(compressed: Uint8Array, format: CompressedFormat, maxBytes: number): Promise<Inflated>;
  /** Preprocessing work queued or running, in cost units (for metrics). */
  readonly preprocessPending: number;
  /** JSON bodies parsed on the preprocessing threads so far (for metrics). */
  readonly jsonParsedOffLoop: number;
}

export interface PredictorOptions {
  modelPath: string;
  modelName: string;
  /** Expected sha256 of the model file; the model is refused when it differs. */
  sha256?: string;
  workers: number;
  intraOpNumThreads: number;
  maxBatchSize: number;
  maxDelayMs: number;
  queueLimit: number;
  /** Preprocessing threads, the cost their queue may hold, their nice increment (src/runtime/preprocess/pool.ts). */
  preprocessWorkers: number;
  preprocessQueueLimit: number;
  preprocessNice?: number;
}

const log = createLogger('runtime.predictor');

/** The in-process predictor: worker threads owning ORT sessions behind one dynamic batcher. */
export class LocalPredictor implements ServingPredictor {
  private pool: WorkerPool | undefined;
  private preprocessing: PreprocessPool | undefined;
  private batcher: Batcher | undefined;
  /** Floats per input image, from the model's signature (once loaded). */
  private inputSize = 0;
  private digest = '';
  private modelInfo: { name: string; sha256: string };
  private failure: string | undefined;
  private readonly observers = new Set<(stats: BatchStats) => void>();
  private starting: Promise<void> | undefined;
  private parsedOffLoop = 0;

  constructor(readonly options: PredictorOptions) {
    this.modelInfo = { name: options.modelName, sha256: '' };
  }

  get model(): { name: string; sha256: string } {
    // One object until the digest is known (read on every request: no new object each time).
    if (this.modelInfo.sha256 !== this.digest)
      this.modelInfo = { name: this.options.modelName, sha256: this.digest };
    return this.modelInfo;
  }

  /** True once the model is loaded and every worker has warmed up. */
  get ready(): boolean {
    return this.batcher !== undefined && this.failure === undefined;
  }

  /** Why the model could not be loaded, if it could not. */
  get loadError(): string | undefined {
    return this.failure;
  }

  /** Input and output names and shapes as the model declares them (available once ready). */
  get signature(): ModelSignature | undefined {
    return this.pool?.signature;
  }

  get queuedImages(): number {
    return this.batcher?.queuedImages ?? 0;
  }

  get runningBatches(): number {
    return this.batcher?.runningBatches ?? 0;
  }

  /** Called after every batch (for metrics); returns an unsubscribe function. */
  onBatch(observer: (stats: BatchStats) => void): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  /**
   * Loads, verifies and warms up the model. Rejects with a ModelLoadError (and records
   * `loadError`) when it cannot.
   */
  start(): Promise<void> {
    this.preprocessing ??= new PreprocessPool(
      this.options.preprocessWorkers,
      this.options.preprocessQueueLimit,
      this.options.preprocessNice,
    );
    this.starting ??= this.load().catch((error: Error) => {
      const failure = error instanceof ModelLoadError ? error : new ModelLoadError(error.message);
      this.failure = failure.message;
      log.error(
        { event: 'model.load_failed', reason: failure.reason, error: failure.message },
        'cannot serve the model',
      );
      throw failure;
    });
    return this.starting;
  }

  private async load(): Promise<void> {
    const started = performance.now();
    const { modelPath, workers, intraOpNumThreads, maxBatchSize } = this.options;
    const file = await readModel(modelPath, this.options.sha256);
    this.digest = file.sha256;
    const pool = await WorkerPool.start(workers, {
      model: file.bytes,
      intraOpNumThreads,
      warmupBatchSizes: [...new Set([1, maxBatchSize])],
    });
    const input = pool.signature.inputs[0];
    const output = pool.signature.outputs[0];
    if (!input || !output || input.type !== 'float32' || output.type !== 'float32') {
      await pool.close();
      throw new Error('the model must have a float32 input and a float32 output');
    }
    this.pool = pool;
    this.inputSize = rowSize(input.shape);
    this.batcher = new Batcher(
      (data, count) => pool.run(data, count),
      {
        maxBatchSize,
        maxDelayMs: this.options.maxDelayMs,
        queueLimit: this.options.queueLimit,
        concurrency: pool.size,
        inputSize: this.inputSize,
        outputSize: rowSize(output.shape),
      },
      (stats) => {
        for (const observer of this.observers) observer(stats);
      },
    );
    log.info(
      {
        event: 'model.ready',
        elapsedMs: elapsedMs(started),
        model: this.options.modelName,
        sha256: file.sha256,
        input: input.name,
        output: output.name,
        workers,
        intraOpNumThreads,
        cores: availableParallelism(),
      },
      'model loaded and warmed up',
    );
  }

  predict(images: Float32Array, count: number, options?: { transfer?: boolean }): Promise<Float32Array> {
    const batcher = this.batcher;
    if (!batcher || this.failure) return Promise.reject(new NotReadyError(this.failure));
    const inputSize = this.inputSize;
    if (!Number.isInteger(count) || count < 0 || images.length !== count * inputSize) {
      return Promise.reject(
        new InvalidInputError(`expected ${count} images of ${inputSize} values, got ${images.length} values`),
      );
    }
    return batcher.submit(images, count, options?.transfer === true).then(requireFinite);
  }

  preprocess(jobs: PreprocessJob[]): Promise<Float32Array> {
    if (!this.preprocessing) return Promise.reject(new NotReadyError());
    return this.preprocessing.run(jobs);
  }

  parseJson(bytes: Uint8Array, v2: boolean, maxJsonDepth: number): Promise<ParsedJson> {
    // Before start() there are no threads (nothing is served yet either): parsed here.
    if (!this.preprocessing) return Promise.resolve(parseJsonBody(bytes, v2, maxJsonDepth));
    this.parsedOffLoop++;
    return this.preprocessing.parseJson(bytes, v2, maxJsonDepth);
  }

  parseBinaryHeader(
    bytes: Uint8Array,
    headerLength: number,
    maxJsonDepth: number,
  ): Promise<{ header: ParsedBinaryHeader; bytes: Uint8Array }> {
    if (!this.preprocessing) {
      const header = parseBinaryHeader(
        bytes.subarray(0, headerLength),
        maxJsonDepth,
        headerLength === bytes.length,
      );
      return Promise.resolve({ header, bytes });
    }
    this.parsedOffLoop++;
    return this.preprocessing.parseBinaryHeader(bytes, headerLength, maxJsonDepth);
  }

  inflate(compressed: Uint8Array, format: CompressedFormat, maxBytes: number): Promise<Inflated> {
    // Before start() there are no threads (nothing is served yet either): inflated here.
    if (!this.preprocessing) return Promise.resolve(inflateBody(compressed, format, maxBytes));
    return this.preprocessing.inflate(compressed, format, maxBytes);
  }

  get jsonParsedOffLoop(): number {
    return this.parsedOffLoop;
  }

  get preprocessPending(): number {
    return this.preprocessing?.pendingCost ?? 0;
  }

  /** Takes no new work, finishes what is queued and running, then stops the workers. */
  async close(): Promise<void> {
    if (this.starting) await this.starting.catch(() => {});
    await this.batcher?.close();
    await Promise.all([this.pool?.close(), this.preprocessing?.close()]);
  }
}

/** A model output that is not finite (an input far outside what it was trained on) is our 500. */
function requireFinite(output: Float32Array): Float32Array {
  for (let i = 0; i < output.length; i++) {
    if (!Number.isFinite(output[i]!)) {
      throw new InferenceFailedError(
        `the model answered a value that is not a finite number (output ${i}: ${output[i]}); the input is probably far outside the range it was trained on`,
      );
    }
  }
  return output;
}
