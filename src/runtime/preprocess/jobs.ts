// Work units (SEGMENT_COST, NORMALISE_COST) are defined with the limits, whose cost rule uses them.
import { NORMALISE_COST, SEGMENT_COST } from '../../api/runtime-limits.ts';
import { InvalidInputError } from '../errors.ts';
import { PIXELS } from './normalize.ts';
import { fromPixels } from './pixels.ts';
import { fromPng, pngDimensions } from './png.ts';
import { fromStrokes, type Point } from './strokes.ts';

/** One image to preprocess into 784 floats; what the preprocessing threads are sent. */
export type PreprocessJob =
  | { kind: 'pixels'; pixels: ArrayLike<number> }
  /** `maxPixels`: the decoded size allowed (checked again from the header before decoding). */
  | { kind: 'png'; png: Uint8Array; maxPixels: number }
  | { kind: 'strokes'; strokes: readonly (readonly Point[])[]; width: number; height: number };

/** A job's input was bad; `index` is the job's place in its batch, so the caller can name it. */
export class JobInputError extends InvalidInputError {
  constructor(
    readonly index: number,
    message: string,
  ) {
    super(message);
  }
}

/** Runs jobs in order into one Float32Array of `jobs.length * 784` values. */
export function runJobs(jobs: readonly PreprocessJob[]): Float32Array {
  const out = new Float32Array(jobs.length * PIXELS);
  for (const [index, job] of jobs.entries()) {
    try {
      out.set(runJob(job), index * PIXELS);
    } catch (error) {
      if (error instanceof InvalidInputError) throw new JobInputError(index, error.message);
      throw error;
    }
  }
  return out;
}

function runJob(job: PreprocessJob): Float32Array {
  switch (job.kind) {
    case 'pixels':
      return fromPixels(job.pixels);
    case 'png':
      return fromPng(Buffer.from(job.png.buffer, job.png.byteOffset, job.png.byteLength), job.maxPixels);
    case 'strokes':
      return fromStrokes(job.strokes, job.width, job.height);
  }
}

/**
 * An estimate of a job's cost in pixel operations, counted against the preprocessing queue's
 * limit: a PNG its decoded pixels, a drawing its segments, pixels the 28x28 image.
 */
export function jobCost(job: PreprocessJob): number {
  switch (job.kind) {
    case 'pixels':
      return NORMALISE_COST;
    case 'png': {
      const size = pngDimensions(Buffer.from(job.png.buffer, job.png.byteOffset, job.png.byteLength));
      return NORMALISE_COST + (size ? size.width * size.height : 0);
    }
    case 'strokes': {
      let points = 0;
      for (const stroke of job.strokes) points += stroke.length;
      return NORMALISE_COST + points * SEGMENT_COST;
    }
  }
}
