import { isMarkedAsUntransferable, type Worker } from 'node:worker_threads';
import { createLogger } from '../../log.ts';
import { InferenceFailedError, NotReadyError } from '../errors.ts';
import { startThread } from '../threads.ts';
import type { TensorInfo, WorkerEvent, WorkerInit, WorkerRequest } from './protocol.ts';

const log = createLogger('runtime.pool');

const newWorker = (workerData: WorkerInit): Worker => startThread(import.meta.url, 'worker', workerData);

export interface ModelSignature {
  inputs: TensorInfo[];
  outputs: TensorInfo[];
}

interface Slot {
  worker: Worker;
  // biome-ignore lint/suspicious/noExplicitAny: each waiter knows what its own request returns
  pending: Map<number, { resolve: (r: any) => void; reject: (e: Error) => void }>;
  /** Set once the worker failed or exited; a replacement takes its place when it is ready. */
  lost?: boolean;
}

export interface RunResult {
  output: Float32Array;
  inferenceMs: number;
}

/**
 * A fixed set of worker threads, each owning one InferenceSession. `run` sends a batch to the
 * worker with the fewest batches in flight (the batcher never sends more than `size` at once).
 */
export class WorkerPool {
  private nextId = 1;
  private closing = false;

  private constructor(
    private readonly slots: Slot[],
    readonly signature: ModelSignature,
    private readonly init: WorkerInit,
  ) {}

  static async start(size: number, init: WorkerInit): Promise<WorkerPool> {
    const started = await Promise.allSettled(Array.from({ length: size }, () => spawn(init)));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(
        started.map((s) => (s.status === 'fulfilled' ? s.value.slot.worker.terminate() : null)),
      );
      throw (failed as PromiseRejectedResult).reason;
    }
    const ok = started as PromiseFulfilledResult<{ slot: Slot; ready: ReadyEvent }>[];
    const first = ok[0]!.value.ready;
    log.info(
      {
        event: 'workers.ready',
        workers: size,
        elapsedMs: round(first.loadMs + first.warmupMs),
        loadMs: round(first.loadMs),
      },
      'inference workers ready',
    );
    const pool = new WorkerPool(
      ok.map((s) => s.value.slot),
      { inputs: first.inputs, outputs: first.outputs },
      init,
    );
    for (const slot of pool.slots) pool.watch(slot);
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  /**
   * Runs a batch; `data`'s buffer moves to the worker (transferred, not copied) and is empty here
   * afterwards. A buffer that cannot move (a slice of Node's shared Buffer pool) is copied first.
   */
  run(data: Float32Array, count: number): Promise<RunResult> {
    const batch =
      data.buffer instanceof ArrayBuffer && !isMarkedAsUntransferable(data.buffer) ? data : data.slice();
    return this.send<RunResult>(
      (id) => ({ type: 'run', id, data: batch, count }),
      [batch.buffer as ArrayBuffer],
    );
  }

  private send<T>(request: (id: number) => WorkerRequest, transfer: ArrayBuffer[] = []): Promise<T> {
    const live = this.slots.filter((s) => !s.lost);
    if (live.length === 0) {
      // Temporary (a replacement is starting): 503, which clients retry.
      return Promise.reject(new NotReadyError('no inference worker is running, a replacement is starting'));
    }
    const slot = live.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage(request(id), transfer);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  /** Routes results to their callers; a worker that dies fails its batches and is replaced. */
  private watch(slot: Slot): void {
    slot.worker.on('message', (event: WorkerEvent) => {
      if (event.type !== 'result' && event.type !== 'error') return;
      const waiter = slot.pending.get(event.id);
      slot.pending.delete(event.id);
      if (!waiter) return;
      if (event.type === 'result') waiter.resolve({ output: event.output, inferenceMs: event.inferenceMs });
      else {
        log.error({ event: 'inference.failed', error: event.message }, 'inference failed');
        waiter.reject(new InferenceFailedError());
      }
    });
    const lost = (reason: string) => {
      if (slot.lost) return; // 'error' is followed by 'exit'
      slot.lost = true;
      const error = new InferenceFailedError('the inference worker stopped while running this request');
      for (const waiter of slot.pending.values()) waiter.reject(error);
      slot.pending.clear();
      if (this.closing) return;
      log.error({ event: 'worker.lost', reason }, 'inference worker lost, replacing it');
      spawn(this.init).then(
        ({ slot: fresh }) => {
          const index = this.slots.indexOf(slot);
          if (this.closing) void fresh.worker.terminate();
          else if (index >= 0) {
            this.slots[index] = fresh;
            this.watch(fresh);
          }
        },
        (error: Error) =>
          log.error({ event: 'worker.respawn_failed', error: error.message }, 'cannot replace worker'),
      );
    };
    slot.worker.on('error', (error) => lost(error.message));
    slot.worker.on('exit', (code) => lost(`exit code ${code}`));
  }
}

type ReadyEvent = Extract<WorkerEvent, { type: 'ready' }>;

function spawn(init: WorkerInit): Promise<{ slot: Slot; ready: ReadyEvent }> {
  const worker = newWorker(init);
  return new Promise((resolve, reject) => {
    const onMessage = (event: WorkerEvent) => {
      if (event.type === 'ready') {
        cleanup();
        resolve({ slot: { worker, pending: new Map() }, ready: event });
      } else if (event.type === 'failed') {
        cleanup();
        void worker.terminate();
        reject(new Error(`cannot load the model: ${event.message}`));
      }
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new Error(`inference worker exited with code ${code} before it was ready`));
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

const round = (ms: number) => Math.round(ms * 100) / 100;
