import { parentPort, workerData } from 'node:worker_threads';
import { InvalidInputError } from '../errors.ts';
import { JobInputError, type PreprocessJob, runJobs } from './jobs.ts';
import { lowerThreadPriority, type PriorityResult } from './priority.ts';

/** What a preprocessing thread is started with. */
export interface PreprocessThreadData {
  /** Nice levels below the process's priority this thread runs at (0: the same). */
  niceIncrement: number;
}

/** Messages between the preprocessing pool (main thread) and one of its threads. */
export interface PreprocessRequest {
  id: number;
  jobs: PreprocessJob[];
}
export type PreprocessReply =
  | { id: number; images: Float32Array }
  /** `index` and `invalid`: the caller's fault, in its job `index`; anything else is ours. */
  | { id: number; message: string; invalid: boolean; index: number };
/** A thread's first message, once it can take work: how its priority was set. */
export interface PreprocessReady {
  ready: true;
  priority: PriorityResult;
}

// A preprocessing thread: PNG decoding, stroke rendering and normalisation, never on the event
// loop, and at a lower priority than the event loop and the model, so that when the cores are
// short the ordinary requests go first and this work waits.
const port = parentPort;
const { niceIncrement } = (workerData ?? { niceIncrement: 0 }) as PreprocessThreadData;
const priority = lowerThreadPriority(niceIncrement);
port?.on('message', ({ id, jobs }: PreprocessRequest) => {
  try {
    const images = runJobs(jobs);
    port.postMessage({ id, images } satisfies PreprocessReply, [images.buffer as ArrayBuffer]);
  } catch (error) {
    port.postMessage({
      id,
      message: (error as Error).message,
      invalid: error instanceof InvalidInputError,
      index: error instanceof JobInputError ? error.index : -1,
    } satisfies PreprocessReply);
  }
});
port?.postMessage({ ready: true, priority } satisfies PreprocessReady);
