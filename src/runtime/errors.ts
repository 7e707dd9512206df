/**
 * Runtime errors as classes with fixed codes; callers branch on `code`, and the HTTP status (or
 * WebSocket close code) is decided once, from the code, at the edge (`httpStatus` below).
 */
export class RuntimeError extends Error {
  constructor(
    readonly code: RuntimeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export type RuntimeErrorCode =
  | 'invalid_input'
  | 'too_large'
  | 'model_not_found'
  | 'unauthorized'
  | 'overloaded'
  | 'not_ready'
  | 'shutting_down'
  | 'inference_failed';

/** The request is malformed; the message names the field (`inputs[0].shape: ...`). */
export class InvalidInputError extends RuntimeError {
  constructor(message: string) {
    super('invalid_input', message);
  }
}

/** The request is over a documented limit; the message names the field and the setting. */
export class TooLargeError extends RuntimeError {
  constructor(message: string) {
    super('too_large', message);
  }
}

export class ModelNotFoundError extends RuntimeError {
  constructor(model: string) {
    super('model_not_found', `model "${model}" is not served here`);
  }
}

export class UnauthorizedError extends RuntimeError {
  constructor() {
    super('unauthorized', 'missing or invalid bearer token');
  }
}

/** The batcher's queue is full; retry after `retryAfterSeconds`. */
export class OverloadedError extends RuntimeError {
  constructor(readonly retryAfterSeconds = 1) {
    super('overloaded', 'the inference queue is full, retry later');
  }
}

/** The model is not loaded and warmed up yet (or failed to load). */
export class NotReadyError extends RuntimeError {
  constructor(message = 'the model is not loaded yet') {
    super('not_ready', message);
  }
}

/** The predictor is closing and takes no new work. */
export class ShuttingDownError extends RuntimeError {
  constructor() {
    super('shutting_down', 'the server is shutting down');
  }
}

/** onnxruntime failed on a batch; the details go to the log, not to the caller. */
export class InferenceFailedError extends RuntimeError {
  constructor(message = 'inference failed') {
    super('inference_failed', message);
  }
}

const statusByCode: Record<RuntimeErrorCode, number> = {
  invalid_input: 400,
  too_large: 413,
  unauthorized: 401,
  model_not_found: 404,
  overloaded: 503,
  not_ready: 503,
  shutting_down: 503,
  inference_failed: 500,
};

export const httpStatus = (code: RuntimeErrorCode): number => statusByCode[code];
