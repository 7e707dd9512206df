import http from 'node:http';
import https from 'node:https';
import { z } from 'zod';
import { JobFailure, RetryableError } from './errors.ts';
import type { LoadedInput } from './input/types.ts';

const PIXELS = 784;

/** `v/255` spelled with 6 decimals at most, looked up instead of formatted per pixel. */
const PIXEL_TEXT = Array.from({ length: 256 }, (_, v) => String(Math.round((v / 255) * 1e6) / 1e6));

/** The V2 request body for images [start, start+count) of an N*784 uint8 array, as JSON text. */
export function v2Body(images: Uint8Array, start: number, count: number): string {
  const parts: string[] = new Array(count * PIXELS);
  const offset = start * PIXELS;
  for (let i = 0; i < parts.length; i++) parts[i] = PIXEL_TEXT[images[offset + i]!]!;
  return `{"inputs":[{"name":"input","shape":[${count},1,28,28],"datatype":"FP32","data":[${parts.join(',')}]}]}`;
}

const V2Response = z.object({
  outputs: z
    .array(z.object({ name: z.string(), shape: z.array(z.number()), data: z.array(z.number()) }))
    .min(1, 'expected at least one output'),
});

/** Parses a V2 response and checks it carries count*10 probabilities. */
export function parseV2Response(body: unknown, count: number): number[] {
  const parsed = V2Response.safeParse(body);
  if (!parsed.success) {
    throw new JobFailure(
      'inference_failed',
      `model answered an invalid V2 response: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`,
    );
  }
  const output = parsed.data.outputs.find((o) => o.name === 'probabilities') ?? parsed.data.outputs[0]!;
  if (output.data.length !== count * 10) {
    throw new JobFailure(
      'inference_failed',
      `model answered ${output.data.length} values for ${count} images, expected ${count * 10}`,
    );
  }
  return output.data;
}

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

/** Exponential backoff with jitter in [half, full] of the capped delay. */
export function backoffDelay(attempt: number, policy: RetryPolicy, random = Math.random): number {
  const capped = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** attempt);
  return capped * (0.5 + random() * 0.5);
}

const retryableStatus = new Set([429, 502, 503, 504]);

/** One HTTP exchange: status and body text, or a transport error. */
function httpPost(
  url: URL,
  body: string,
  agent: http.Agent,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).request(url, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      ...(signal ? { signal } : {}),
    });
    request.setTimeout(timeoutMs, () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('aborted', () => reject(new Error('response aborted')));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    request.end(body);
  });
}

/** One POST of one batch; throws RetryableError for what a retry may fix, JobFailure otherwise. */
export async function postBatch(
  endpoint: URL,
  body: string,
  count: number,
  agent: http.Agent,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<number[]> {
  let status: number;
  let text: string;
  try {
    ({ status, text } = await httpPost(endpoint, body, agent, timeoutMs, signal));
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new RetryableError(`request failed: ${describe(error)}`);
  }
  if (retryableStatus.has(status))
    throw new RetryableError(`model answered ${status}: ${text.slice(0, 200)}`);
  if (status < 200 || status >= 300)
    throw new JobFailure('inference_failed', `model answered ${status}: ${text.slice(0, 300)}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new JobFailure('inference_failed', 'model answered a body that is not JSON');
  }
  return parseV2Response(json, count);
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: string }).code;
  return code ? `${code}: ${error.message}` : error.message;
}

export interface BatchOutcome {
  index: number;
  start: number;
  count: number;
  probabilities: number[];
  latencyMs: number;
}

export interface SendOptions {
  endpoint: string;
  batchSize: number;
  concurrency: number;
  policy?: RetryPolicy;
  signal?: AbortSignal;
  onBatch(outcome: BatchOutcome): void;
  onRetry?(info: { index: number; attempt: number; delayMs: number; reason: string }): void;
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
      const body = v2Body(input.read(start, size), 0, size);
      const firstTry = Date.now();
      for (let attempt = 0; ; attempt++) {
        const sent = performance.now();
        try {
          const probabilities = await postBatch(endpoint, body, size, agent, policy.requestTimeoutMs, signal);
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
          const delayMs = backoffDelay(attempt, policy);
          options.onRetry?.({ index, attempt: attempt + 1, delayMs, reason: error.message });
          await sleep(delayMs, signal);
        }
      }
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
