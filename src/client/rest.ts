import type { PredictInstance, PredictManyResponse, PredictResponse } from '../api/predict.ts';
import { ClientError, HttpError, RequestTimeoutError } from './errors.ts';

/** One input of `POST /v1/predict` (design.md): 784 pixels, a base64 PNG, or strokes. */
export type PredictInput = PredictInstance;
/** The answer of `POST /v1/predict` for one input. */
export type PredictResult = PredictResponse;
/** The answer of `POST /v1/predict` for `instances`: one prediction per input, in order. */
export type PredictManyResult = PredictManyResponse;

/** KServe V2 model metadata (`GET /v2/models/{model}`). */
export interface ModelMetadata {
  name: string;
  versions?: string[];
  platform: string;
  inputs: { name: string; datatype: string; shape: number[] }[];
  outputs: { name: string; datatype: string; shape: number[] }[];
}

export interface RestClientOptions {
  /** Base URL of the runtime, e.g. `http://localhost:8080`. */
  url: string;
  token?: string | undefined;
  timeoutMs?: number;
  /** The fetch implementation (global fetch by default: Node 18+ and browsers). */
  fetch?: typeof fetch;
}

/** A typed client of the runtime's REST API: `/v1/predict`, KServe V2 infer and health. */
export class RestClient {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

  constructor(private readonly options: RestClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  predict(input: PredictInput): Promise<PredictResult> {
    return this.call('POST', '/v1/predict', input) as Promise<PredictResult>;
  }

  /** Several inputs in one request (`instances`), answered in order. */
  predictMany(inputs: PredictInput[]): Promise<PredictManyResult> {
    return this.call('POST', '/v1/predict', { instances: inputs }) as Promise<PredictManyResult>;
  }

  /**
   * KServe V2 inference on `count` 28x28 images (`images.length === count*784`, 0..1); returns one
   * array of 10 probabilities per image.
   */
  async infer(model: string, images: ArrayLike<number>, count: number): Promise<number[][]> {
    if (images.length !== count * 784) {
      throw new ClientError('invalid_input', `images: expected ${count * 784} values, got ${images.length}`);
    }
    const body = (await this.call('POST', `/v2/models/${encodeURIComponent(model)}/infer`, {
      inputs: [{ name: 'input', shape: [count, 1, 28, 28], datatype: 'FP32', data: Array.from(images) }],
    })) as { outputs: { name: string; shape: number[]; data: number[] }[] };
    const output = body.outputs.find((candidate) => candidate.name === 'probabilities') ?? body.outputs[0];
    if (!output) throw new ClientError('invalid_response', 'outputs: empty');
    return Array.from({ length: count }, (_, i) => output.data.slice(i * 10, i * 10 + 10));
  }

  model(name: string): Promise<ModelMetadata> {
    return this.call('GET', `/v2/models/${encodeURIComponent(name)}`) as Promise<ModelMetadata>;
  }

  /** Liveness and readiness (`/v2/health/live`, `/v2/health/ready`); never throws on a 503. */
  async health(): Promise<{ live: boolean; ready: boolean }> {
    const probe = async (path: string): Promise<boolean> => {
      try {
        await this.call('GET', path);
        return true;
      } catch (error) {
        if (error instanceof HttpError) return false;
        throw error;
      }
    };
    const [live, ready] = await Promise.all([probe('/v2/health/live'), probe('/v2/health/ready')]);
    return { live, ready };
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.base}${path}`, {
        method,
        headers,
        signal: controller.signal,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      if (controller.signal.aborted) throw new RequestTimeoutError(`${method} ${path}`, this.timeoutMs);
      throw new ClientError('connection_failed', `${method} ${path}: ${(error as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: kept as text for the error
    }
    if (!response.ok) throw new HttpError(response.status, parsed);
    return parsed;
  }
}
