import { OverloadedError, ShuttingDownError } from '../errors.ts';

export interface BatcherOptions {
  /** Largest batch sent to the model; a request with more images is split across batches. */
  maxBatchSize: number;
  /** How long the oldest queued image may wait for company before its batch leaves anyway. */
  maxDelayMs: number;
  /** Images waiting (not yet running) beyond which new requests are refused with OverloadedError. */
  queueLimit: number;
  /** Batches allowed to run at once (one per worker). */
  concurrency: number;
  /** Floats per input image and per output row. */
  inputSize: number;
  outputSize: number;
}

export interface BatchStats {
  size: number;
  /** How long the batch's oldest request waited in the queue. */
  waitMs: number;
  inferenceMs: number;
}

export type RunBatch = (
  data: Float32Array,
  count: number,
) => Promise<{ output: Float32Array; inferenceMs: number }>;

interface Item {
  images: Float32Array;
  count: number;
  /** The caller gave `images` up: a batch of this item alone is sent without a copy. */
  owned: boolean;
  enqueuedAt: number;
  resolve: (output: Float32Array) => void;
  reject: (error: Error) => void;
}

/**
 * The dynamic batcher: requests from every caller join one queue; a batch leaves when it is full
 * (`maxBatchSize` images), when its oldest request has waited `maxDelayMs`, or, when no batch is
 * running at all, at the end of the event loop's turn (so the requests read from the sockets in
 * that turn leave together, not the first alone); and only while a worker is free, so under load
 * the queue itself forms large batches. Each request's images are kept contiguous and in order,
 * so every caller gets exactly its own rows back.
 */
export class Batcher {
  private readonly queue: Item[] = [];
  private queued = 0;
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly run: RunBatch,
    private readonly options: BatcherOptions,
    private readonly onBatch: (stats: BatchStats) => void = () => {},
  ) {}

  /** Images queued and not yet sent to a worker. */
  get queuedImages(): number {
    return this.queued;
  }

  /** Batches currently running on workers. */
  get runningBatches(): number {
    return this.running;
  }

  /**
   * Queues `count` images; resolves to their `count * outputSize` outputs. With `owned`, the
   * caller gives `images` up: when they form a batch alone (a request of exactly one batch, as a
   * 64-digit one usually is) their buffer goes to the worker as it is, no copy.
   */
  submit(images: Float32Array, count: number, owned = false): Promise<Float32Array> {
    if (this.closed) return Promise.reject(new ShuttingDownError());
    if (count === 0) return Promise.resolve(new Float32Array(0));
    if (this.queued + count > this.options.queueLimit) return Promise.reject(new OverloadedError());
    const { maxBatchSize, inputSize, outputSize } = this.options;
    const parts: Promise<Float32Array>[] = [];
    const now = performance.now();
    for (let start = 0; start < count; start += maxBatchSize) {
      const n = Math.min(maxBatchSize, count - start);
      parts.push(
        new Promise((resolve, reject) => {
          this.queue.push({
            images: n === count ? images : images.subarray(start * inputSize, (start + n) * inputSize),
            count: n,
            owned: owned && n === count,
            enqueuedAt: now,
            resolve,
            reject,
          });
        }),
      );
      this.queued += n;
    }
    this.schedulePump();
    if (parts.length === 1) return parts[0]!;
    return Promise.all(parts).then((outputs) => {
      const all = new Float32Array(count * outputSize);
      let offset = 0;
      for (const out of outputs) {
        all.set(out, offset);
        offset += out.length;
      }
      return all;
    });
  }

  /** Refuses new work; resolves once everything queued and running has finished. */
  close(): Promise<void> {
    this.closed = true;
    this.pump();
    return this.idle();
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pumpScheduled = false;

  /** Pumps once the event loop has read every request that arrived with this one. */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    const { maxBatchSize, maxDelayMs, concurrency } = this.options;
    while (this.queue.length > 0 && this.running < concurrency) {
      const waited = performance.now() - this.queue[0]!.enqueuedAt;
      // Waiting for company only pays while another batch is running: with every worker idle, a
      // lone request goes within the turn (no added latency at low load); under load, batches
      // fill while workers are busy. A closing batcher flushes at once: nobody else is coming.
      const worthWaiting = this.running > 0 && !this.closed;
      if (this.queued < maxBatchSize && waited < maxDelayMs && worthWaiting) {
        if (!this.timer) {
          this.timer = setTimeout(() => {
            this.timer = undefined;
            this.pump();
          }, maxDelayMs - waited);
        }
        return;
      }
      this.dispatch();
    }
    if (this.queue.length === 0 && this.running === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private dispatch(): void {
    const { maxBatchSize, inputSize, outputSize } = this.options;
    const items: Item[] = [];
    let count = 0;
    while (this.queue.length > 0 && count + this.queue[0]!.count <= maxBatchSize) {
      const item = this.queue.shift()!;
      items.push(item);
      count += item.count;
    }
    this.queued -= count;
    if (this.timer && (this.queue.length === 0 || this.queued >= maxBatchSize)) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    let data: Float32Array;
    if (items.length === 1 && items[0]!.owned) data = items[0]!.images;
    else {
      data = new Float32Array(count * inputSize);
      let offset = 0;
      for (const item of items) {
        data.set(item.images, offset);
        offset += item.images.length;
      }
    }
    const waitMs = performance.now() - items[0]!.enqueuedAt;
    this.running++;
    this.run(data, count)
      .then(
        ({ output, inferenceMs }) => {
          let row = 0;
          for (const item of items) {
            // Views of the batch's one output buffer, not copies: one allocation per batch.
            item.resolve(output.subarray(row * outputSize, (row + item.count) * outputSize));
            row += item.count;
          }
          this.onBatch({ size: count, waitMs, inferenceMs });
        },
        (error: Error) => {
          for (const item of items) item.reject(error);
        },
      )
      .finally(() => {
        this.running--;
        this.pump();
      });
  }
}
