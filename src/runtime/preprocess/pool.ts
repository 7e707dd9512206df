import type { Worker } from 'node:worker_threads';
import { JSON_BYTES_PER_UNIT } from '../../api/runtime-limits.ts';
import { createLogger } from '../../log.ts';
import { InferenceFailedError, OverloadedError, ShuttingDownError } from '../errors.ts';
import type { CompressedFormat, Inflated } from '../http/inflate.ts';
import type { ParsedBinaryHeader, ParsedJson } from '../http/json-parse.ts';
import { startThread } from '../threads.ts';
import { JobInputError, jobCost, type PreprocessJob } from './jobs.ts';
import { ownBuffer } from './own-buffer.ts';
import type { PriorityResult } from './priority.ts';
import type { PreprocessReady, PreprocessReply, PreprocessRequest, PreprocessThreadData } from './worker.ts';

const log = createLogger('runtime.preprocess');

/** What a task sends its thread (a PreprocessRequest but for its id). */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Work = WithoutId<PreprocessRequest>;

interface Task {
  id: number;
  work: Work;
  /** Buffers that move to the thread with the message. */
  transfer: ArrayBuffer[];
  cost: number;
  settle: (reply: PreprocessReply) => void;
  reject: (error: Error) => void;
}

interface Thread {
  worker: Worker;
  task?: Task | undefined;
  ready: boolean;
  priority?: PriorityResult;
}

/**
 * Preprocessing threads (PNG decoding, stroke rendering, normalisation), so that the event loop
 * only routes. One FIFO queue feeds every thread, one task at a time each; work queued or running
 * is bounded by `queueLimit` units of `jobCost`, beyond which `run` rejects with OverloadedError
 * (503 + Retry-After, `/ws` `overloaded`). A thread that dies fails its task and is replaced.
 * Threads run `niceIncrement` nice levels below the process (Linux), so that on a machine short
 * of cores this work yields to the event loop and the inference workers.
 */
export class PreprocessPool {
  private readonly threads: Thread[] = [];
  private readonly queue: Task[] = [];
  private pending = 0;
  private nextId = 1;
  private closed = false;

  private warnedPriority = false;

  constructor(
    size: number,
    readonly queueLimit: number,
    readonly niceIncrement = 0,
  ) {
    for (let i = 0; i < size; i++) this.threads.push(this.spawn());
  }

  /** Cost units queued or running. */
  get pendingCost(): number {
    return this.pending;
  }

  /** The OS thread ids and nice values of the threads started so far (those not yet ready left out). */
  get priorities(): PriorityResult[] {
    return this.threads.flatMap((thread) => (thread.priority ? [thread.priority] : []));
  }

  /** Preprocesses `jobs` into `jobs.length * 784` floats, in order. */
  run(jobs: PreprocessJob[]): Promise<Float32Array> {
    let cost = 0;
    for (const job of jobs) cost += jobCost(job);
    return this.enqueue({ jobs }, [], cost, (reply) => ('images' in reply ? reply.images : undefined));
  }

  /**
   * Parses a JSON request body on a thread (json-parse.ts), counted against the same queue as
   * preprocessing (`JSON_BYTES_PER_UNIT` bytes a unit). The body's bytes move to the thread when
   * they own their buffer (empty here afterwards), and are copied otherwise.
   */
  parseJson(bytes: Uint8Array, v2: boolean, maxJsonDepth: number): Promise<ParsedJson> {
    const owned = ownBuffer(bytes);
    return this.enqueue(
      { json: { bytes: owned, v2, maxJsonDepth } },
      [owned.buffer as ArrayBuffer],
      Math.ceil(bytes.byteLength / JSON_BYTES_PER_UNIT),
      (reply) => ('parsed' in reply ? reply.parsed : undefined),
    );
  }

  /**
   * Parses the JSON header (the first `headerLength` bytes) of a binary tensor data body on a
   * thread (json-parse.ts parseBinaryHeader), counted like parseJson. The body's bytes move there
   * and back: the answer's `bytes` are the same body, the tensor after the header in them.
   */
  parseBinaryHeader(
    bytes: Uint8Array,
    headerLength: number,
    maxJsonDepth: number,
  ): Promise<{ header: ParsedBinaryHeader; bytes: Uint8Array }> {
    const owned = ownBuffer(bytes);
    return this.enqueue(
      { binaryHeader: { bytes: owned, headerLength, maxJsonDepth } },
      [owned.buffer as ArrayBuffer],
      Math.ceil(headerLength / JSON_BYTES_PER_UNIT),
      (reply) => ('binary' in reply ? reply.binary : undefined),
    );
  }

  /**
   * Inflates a compressed request body whole on a thread (inflate.ts), to at most `maxBytes`,
   * counted against the same queue as a JSON body of `maxBytes` (what it may inflate to). The
   * compressed bytes move to the thread, the inflated ones back.
   */
  inflate(compressed: Uint8Array, format: CompressedFormat, maxBytes: number): Promise<Inflated> {
    const owned = ownBuffer(compressed);
    return this.enqueue(
      { inflate: { bytes: owned, format, maxBytes } },
      [owned.buffer as ArrayBuffer],
      Math.ceil(maxBytes / JSON_BYTES_PER_UNIT),
      (reply) => ('inflated' in reply ? reply.inflated : undefined),
    );
  }

  /**
   * Queues `work` at `cost` units (503 when over the limit) and answers what `take` reads from the
   * thread's reply: a failure reply is the job's error, a reply of another kind a bug of ours.
   */
  private enqueue<T>(
    work: Work,
    transfer: ArrayBuffer[],
    cost: number,
    take: (reply: PreprocessReply) => T | undefined,
  ): Promise<T> {
    if (this.closed) return Promise.reject(new ShuttingDownError());
    if (this.pending + cost > this.queueLimit) return Promise.reject(new OverloadedError());
    this.pending += cost;
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        id: this.nextId++,
        work,
        transfer,
        cost,
        settle: (reply) => {
          if ('message' in reply) return reject(replyError(reply));
          const value = take(reply);
          if (value === undefined)
            reject(new InferenceFailedError('preprocessing answered another kind of reply'));
          else resolve(value);
        },
        reject,
      });
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
      thread.worker.postMessage({ id: task.id, ...task.work } as PreprocessRequest, task.transfer);
    }
  }

  /** Logs, once, that the threads could not be made nicer (they then run like the rest). */
  private checkPriority(priority: PriorityResult): void {
    if (!('error' in priority) || this.niceIncrement === 0 || this.warnedPriority) return;
    this.warnedPriority = true;
    log.warn(
      { event: 'preprocess.priority_unchanged', error: priority.error },
      'preprocessing threads run at the process priority (preprocessNice not applied)',
    );
  }

  private finish(thread: Thread): Task | undefined {
    const task = thread.task;
    thread.task = undefined;
    if (task) this.pending -= task.cost;
    return task;
  }

  private spawn(): Thread {
    const data: PreprocessThreadData = { niceIncrement: this.niceIncrement };
    const thread: Thread = { worker: startThread(import.meta.url, 'worker', data), ready: false };
    thread.worker.on('message', (reply: PreprocessReply | PreprocessReady) => {
      if ('ready' in reply) {
        thread.ready = true;
        thread.priority = reply.priority;
        this.checkPriority(reply.priority);
        return this.pump();
      }
      this.finish(thread)?.settle(reply);
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

/** A thread's failure: the caller's fault in one job, or ours (logged). */
function replyError(reply: Extract<PreprocessReply, { message: string }>): Error {
  if (reply.invalid) return new JobInputError(reply.index, reply.message);
  log.error({ event: 'preprocess.failed', error: reply.message }, 'preprocessing failed');
  return new InferenceFailedError('preprocessing failed');
}
