import { elapsedMs, type Logger } from '../log.ts';
import { describeError } from '../shared/errors.ts';
import { WorkQueue, type WorkQueueOptions } from './queue.ts';

/** What a reconcile asks of the queue: nothing (done until something changes) or a later look. */
export interface ReconcileResult {
  requeueAfterMs?: number;
}

export interface ControllerHooks {
  onReconcile?: (outcome: 'success' | 'error' | 'requeue', elapsedMs: number) => void;
  onDequeue?: (waitedMs: number) => void;
}

export interface ControllerOptions extends ControllerHooks {
  /** The kind it reconciles, for logs and metrics. */
  name: string;
  reconcile: (key: string) => Promise<ReconcileResult | undefined>;
  concurrency?: number;
  /** Every `resyncMs` every key from `keys()` is queued again (a safety net, not the trigger). */
  resyncMs?: number;
  keys?: () => Iterable<string>;
  queue?: WorkQueueOptions;
  logger?: Logger;
}

/**
 * Runs a reconcile function over a work queue with bounded concurrency: at most `concurrency`
 * keys at once and never the same key twice at once (the queue guarantees it); a failed
 * reconcile is retried with that key's backoff; `stop()` lets the reconciles in flight finish.
 */
export class Controller {
  readonly queue: WorkQueue;
  private workers: Promise<void>[] = [];
  private resync: NodeJS.Timeout | undefined;

  constructor(private readonly options: ControllerOptions) {
    this.queue = new WorkQueue({
      ...options.queue,
      ...(options.onDequeue ? { onDequeue: options.onDequeue } : {}),
    });
  }

  get name(): string {
    return this.options.name;
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  start(): void {
    if (this.workers.length) return;
    const concurrency = this.options.concurrency ?? 4;
    for (let i = 0; i < concurrency; i++) this.workers.push(this.work());
    const { resyncMs, keys } = this.options;
    if (resyncMs && keys) {
      this.resync = setInterval(() => {
        for (const key of keys()) this.queue.add(key);
      }, resyncMs);
      this.resync.unref?.();
    }
  }

  /** Stops taking keys and resolves when every reconcile in flight has finished. */
  async stop(): Promise<void> {
    clearInterval(this.resync);
    this.queue.shutdown();
    await Promise.all(this.workers);
  }

  private async work(): Promise<void> {
    const log = this.options.logger;
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const started = performance.now();
      try {
        const result = await this.options.reconcile(key);
        this.queue.forget(key);
        if (result?.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
        this.options.onReconcile?.(
          result?.requeueAfterMs !== undefined ? 'requeue' : 'success',
          elapsedMs(started),
        );
      } catch (error) {
        const delay = this.queue.addRateLimited(key);
        this.options.onReconcile?.('error', elapsedMs(started));
        log?.warn(
          {
            event: 'reconcile.failed',
            kind: this.options.name,
            key,
            err: describeError(error),
            retryInMs: delay,
            elapsedMs: elapsedMs(started),
          },
          'reconcile failed',
        );
      } finally {
        this.queue.done(key);
      }
    }
  }
}
