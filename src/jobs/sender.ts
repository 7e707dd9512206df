import http from 'node:http';
import https from 'node:https';
import { backoffDelay } from '../shared/backoff.ts';
import { describeError } from '../shared/errors.ts';
import { JobFailure, RetryableError } from './errors.ts';
import type { LoadedInput } from './input/types.ts';
import {
  type EncodedRequest,
  encodeBatch,
  inferenceHeaderLength,
  parseV2Answer,
  type TensorEncoding,
} from './v2-codec.ts';

export interface RetryPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  /** Give up on a batch (and the job) after retrying it for this long. */
  giveUpAfterMs: number;
  requestTimeoutMs: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  initialDelayMs: 100,
  maxDelayMs: 3000,
  giveUpAfterMs: 120_000,
  requestTimeoutMs: 30_000,
};

const retryableStatus = new Set([429, 502, 503, 504]);

/** One HTTP exchange: status, body and the binary extension's header length, or a transport error. */
function httpPost(
  url: URL,
  request: EncodedRequest,
  agent: http.Agent,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<{ status: number; body: Buffer; headerLength: string | undefined }> {
  return new Promise((resolve, reject) => {
    const outgoing = (url.protocol === 'https:' ? https : http).request(url, {
      method: 'POST',
      agent,
      headers: { ...request.headers, 'content-length': Buffer.byteLength(request.body) },
      ...(signal ? { signal } : {}),
    });
    outgoing.setTimeout(timeoutMs, () => outgoing.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    outgoing.on('error', reject);
    outgoing.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('aborted', () => reject(new Error('response aborted')));
      response.on('end', () => {
        const header = response.headers[inferenceHeaderLength];
        resolve({
          status: response.statusCode ?? 0,
          body: Buffer.concat(chunks),
          headerLength: Array.isArray(header) ? header[0] : header,
        });
      });
    });
    outgoing.end(request.body);
  });
}

/** A 4xx a V2 server without the binary extension may give a binary request (415: fastify's default). */
export class BinaryRefusedError extends JobFailure {}

/**
 * One POST of one batch; throws RetryableError for what a retry may fix, BinaryRefusedError for a
 * 400/415 to a binary request (the caller checks whether JSON fares better), JobFailure otherwise.
 */
export async function postBatch(
  endpoint: URL,
  request: EncodedRequest,
  count: number,
  agent: http.Agent,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<ArrayLike<number>> {
  let answer: Awaited<ReturnType<typeof httpPost>>;
  try {
    answer = await httpPost(endpoint, request, agent, timeoutMs, signal);
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new RetryableError(`request failed: ${describeError(error)}`);
  }
  const { status } = answer;
  const text = () => answer.body.subarray(0, 300).toString('utf8');
  if (retryableStatus.has(status))
    throw new RetryableError(`model answered ${status}: ${text().slice(0, 200)}`);
  if ((status === 400 || status === 415) && Buffer.isBuffer(request.body))
    throw new BinaryRefusedError('inference_failed', `model answered ${status}: ${text()}`);
  if (status < 200 || status >= 300)
    throw new JobFailure('inference_failed', `model answered ${status}: ${text()}`);
  return parseV2Answer(answer.body, answer.headerLength, count);
}

export interface BatchOutcome {
  index: number;
  start: number;
  count: number;
  probabilities: ArrayLike<number>;
  latencyMs: number;
}

export interface SendOptions {
  endpoint: string;
  batchSize: number;
  concurrency: number;
  policy?: RetryPolicy;
  /**
   * `binary` (default): Triton's binary tensor extension, falling back to JSON for the rest of the
   * job when a batch refused as binary (400/415) is accepted as JSON; `json`: JSON only.
   */
  encoding?: TensorEncoding;
  signal?: AbortSignal;
  onBatch(outcome: BatchOutcome): void;
  onRetry?(info: { index: number; attempt: number; delayMs: number; reason: string }): void;
  /** The server refused binary and took JSON: every later batch goes as JSON. */
  onFallback?(info: { index: number; reason: string }): void;
}

/**
 * Sends images [0, count) in batches with at most `concurrency` requests in flight. A batch is
 * retried with backoff until it succeeds or `giveUpAfterMs` passes; `onBatch` is called exactly
 * once per batch, only with a complete, validated answer, so retries never lose or repeat images.
 */
export async function sendBatches(
  input: Pick<LoadedInput, 'read'>,
  count: number,
  options: SendOptions,
): Promise<void> {
  const policy = options.policy ?? defaultRetryPolicy;
  const batches = Math.ceil(count / options.batchSize);
  const abort = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;
  let next = 0;
  let encoding: TensorEncoding = options.encoding ?? 'binary';
  const endpoint = new URL(options.endpoint);
  // Own keep-alive connections, closed when the job ends, so a finished runner holds none open.
  const agent = new (endpoint.protocol === 'https:' ? https.Agent : http.Agent)({
    keepAlive: true,
    maxSockets: options.concurrency,
  });

  const worker = async (): Promise<void> => {
    while (next < batches && !signal.aborted) {
      const index = next++;
      const start = index * options.batchSize;
      const size = Math.min(options.batchSize, count - start);
      const images = input.read(start, size);
      const firstTry = Date.now();
      for (let attempt = 0; ; attempt++) {
        const sent = performance.now();
        try {
          const probabilities = await postOneBatch(index, images, size);
          options.onBatch({ index, start, count: size, probabilities, latencyMs: performance.now() - sent });
          break;
        } catch (error) {
          if (!(error instanceof RetryableError) || signal.aborted) throw error;
          if (Date.now() - firstTry > policy.giveUpAfterMs) {
            throw new JobFailure(
              'model_unavailable',
              `batch ${index} failed for ${policy.giveUpAfterMs} ms: ${error.message}`,
            );
          }
          const delayMs = backoffDelay(attempt, { ...policy, jitter: 0.5 });
          options.onRetry?.({ index, attempt: attempt + 1, delayMs, reason: error.message });
          await sleep(delayMs, signal);
        }
      }
    }
  };

  /**
   * One attempt at a batch in the current encoding. A binary batch refused with 400/415 is sent
   * once more as JSON, unchanged otherwise: if JSON is accepted, the refusal was the encoding (the
   * only difference), so the job switches to JSON; if not, JSON's own answer fails the job. Either
   * way the batch yields at most one answer, so exactly-once counting holds.
   */
  const postOneBatch = async (
    index: number,
    images: Uint8Array,
    size: number,
  ): Promise<ArrayLike<number>> => {
    const used = encoding;
    const post = (as: TensorEncoding) =>
      postBatch(endpoint, encodeBatch(as, images, 0, size), size, agent, policy.requestTimeoutMs, signal);
    try {
      return await post(used);
    } catch (error) {
      if (!(error instanceof BinaryRefusedError)) throw error;
      const probabilities = await post('json');
      if (encoding === 'binary') {
        encoding = 'json';
        options.onFallback?.({ index, reason: error.message });
      }
      return probabilities;
    }
  };

  const workers = Array.from({ length: Math.min(options.concurrency, batches) }, () =>
    worker().catch((error: unknown) => {
      abort.abort();
      throw error;
    }),
  );
  const settled = await Promise.allSettled(workers);
  agent.destroy();
  // The first real failure wins over the aborts it caused in the other workers.
  const failure =
    settled.find((s) => s.status === 'rejected' && s.reason instanceof JobFailure) ??
    settled.find((s) => s.status === 'rejected');
  if (failure && failure.status === 'rejected') throw failure.reason;
  if (options.signal?.aborted) throw new JobFailure('internal', 'job was cancelled');
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
