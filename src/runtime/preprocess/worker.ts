import { parentPort } from 'node:worker_threads';
import { InvalidInputError } from '../errors.ts';
import { JobInputError, type PreprocessJob, runJobs } from './jobs.ts';

/** Messages between the preprocessing pool (main thread) and one of its threads. */
export interface PreprocessRequest {
  id: number;
  jobs: PreprocessJob[];
}
export type PreprocessReply =
  | { id: number; images: Float32Array }
  /** `index` and `invalid`: the caller's fault, in its job `index`; anything else is ours. */
  | { id: number; message: string; invalid: boolean; index: number };

// A preprocessing thread: PNG decoding, stroke rendering and normalisation, never on the event loop.
const port = parentPort;
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
port?.postMessage({ ready: true });
