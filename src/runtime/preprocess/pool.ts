import type { Worker } from 'node:worker_threads';
import { createLogger } from '../../log.ts';
import { InferenceFailedError, OverloadedError, ShuttingDownError } from '../errors.ts';
import { startThread } from '../threads.ts';
import { JobInputError, jobCost, type PreprocessJob } from './jobs.ts';
import type { PreprocessReply, PreprocessRequest } from './worker.ts';

const log = createLogger('runtime.preprocess');

interface Task {
  id: number;
  jobs: PreprocessJob[];
  cost: number;
  resolve: (images: Float32Array) => void;
  reject: (error: Error) => void;
}

interface Thread {
  worker: Worker;
  task?: Task | undefined;
  ready: boolean;
}

/**
 * Preprocessing threads (PNG decoding, stroke rendering, normalisation), so that the event loop
 * only routes. One FIFO queue feeds every thread, one task at a time each; work queued or running
 * is bounded by `queueLimit` units of `jobCost`, beyond which `run` rejects with OverloadedError
 * (503 + Retry-After, `/ws` `overloaded`). A thread that dies fails its task and is replaced.
 */
export class PreprocessPool {
  private readonly threads: Thread[] = [];
  private readonly queue: Task[] = [];
  private pending = 0;
  private nextId = 1;
  private closed = false;

  constructor(
    size: number,
    readonly queueLimit: number,
  ) {
    for (let i = 0; i < size; i++) this.threads.push(this.spawn());
  }

  /** Cost units queued or running. */
  get pendingCost(): number {
    return this.pending;
  }

  /** Preprocesses `jobs` into `jobs.length * 784` floats, in order. */
  run(jobs: PreprocessJob[]): Promise<Float32Array> {
    if (this.closed) return Promise.reject(new ShuttingDownError());
    let cost = 0;
    for (const job of jobs) cost += jobCost(job);
    if (this.pending + cost > this.queueLimit) return Promise.reject(new OverloadedError());
    this.pending += cost;
    return new Promise<Float32Array>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, jobs, cost, resolve, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const task of this.queue.splice(0)) task.reject(new ShuttingDownError());
    await Promise.all(this.threads.map((thread) => thread.worker.terminate()));
  }

  private pump(): void {
    for (const thread of this.threads) {
      if (this.queue.length === 0) return;
      if (!thread.ready || thread.task) continue;
      const task = this.queue.shift()!;
      thread.task = task;
      thread.worker.postMessage({ id: task.id, jobs: task.jobs } satisfies PreprocessRequest);
    }
  }

  private finish(thread: Thread): Task | undefined {
    const task = thread.task;
    thread.task = undefined;
    if (task) this.pending -= task.cost;
    return task;
  }

  private spawn(): Thread {
    const thread: Thread = { worker: startThread(import.meta.url, 'worker', undefined), ready: false };
    thread.worker.on('message', (reply: PreprocessReply | { ready: true }) => {
      if ('ready' in reply) {
        thread.ready = true;
        return this.pump();
      }
      const task = this.finish(thread);
      if (task) settle(task, reply);
      this.pump();
    });
    let lost = false;
    const onLost = (reason: string) => {
      if (lost) return; // 'error' is followed by 'exit'
      lost = true;
      this.finish(thread)?.reject(
        new InferenceFailedError('the preprocessing thread stopped on this request'),
      );
      if (this.closed) return;
      log.error({ event: 'preprocess.thread_lost', reason }, 'preprocessing thread lost, replacing it');
      this.threads[this.threads.indexOf(thread)] = this.spawn();
    };
    thread.worker.on('error', (error) => onLost(error.message));
    thread.worker.on('exit', (code) => onLost(`exit code ${code}`));
    return thread;
  }
}

function settle(task: Task, reply: PreprocessReply): void {
  if ('images' in reply) task.resolve(reply.images);
  else if (reply.invalid) task.reject(new JobInputError(reply.index, reply.message));
  else {
    log.error({ event: 'preprocess.failed', error: reply.message }, 'preprocessing failed');
    task.reject(new InferenceFailedError('preprocessing failed'));
  }
}
