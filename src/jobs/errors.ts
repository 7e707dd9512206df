import type { JobErrorCode } from '../api/jobs.ts';

/** A job failure with a fixed code, as it appears in the `error` message and the snapshot. */
export class JobFailure extends Error {
  constructor(
    readonly code: JobErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'JobFailure';
  }
}

/** A batch request that may succeed if sent again: 429/502/503/504, a connection error, a timeout. */
export class RetryableError extends Error {
  readonly code = 'retryable';
}
