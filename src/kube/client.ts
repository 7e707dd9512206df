import { setMaxListeners } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/**
 * A small REST client for the Kubernetes API built on the KubeConfig's credentials.
 *
 * Why not the generated clients or `Watch` of @kubernetes/client-node 1.4: its `Watch` cannot be
 * aborted before the response headers arrive (the AbortController is returned only afterwards,
 * and its 30 s timeout signal is overwritten, i.e. dead code), so a connect that hangs leaves the
 * informer deaf with no handle to cancel it; the generated clients open a fresh TLS connection per
 * request (a new agent every call) and give no single place to count requests. This client keeps
 * one keep-alive agent, takes an AbortSignal on every request, and reports every request to a hook
 * (the operator's API request metrics).
 */

/** A failed API call; `statusCode` and `reason` come from the apiserver's Status object. */
export class ApiError extends Error {
  readonly code = 'api_error';
  constructor(
    readonly statusCode: number,
    readonly reason: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** The connection failed or timed out before an HTTP status arrived. */
export class TransportError extends Error {
  readonly code = 'transport_error';
}

export const isNotFound = (error: unknown): boolean => error instanceof ApiError && error.statusCode === 404;
export const isConflict = (error: unknown): boolean => error instanceof ApiError && error.statusCode === 409;
export const isGone = (error: unknown): boolean => error instanceof ApiError && error.statusCode === 410;

export interface RequestRecord {
  verb: string;
  resource: string;
  code: number;
  elapsedMs: number;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /**
   * Idle timeout: the request fails when its socket has been silent this long (not a bound on the
   * whole request; pass a `signal` for that). Watches pass 0 and rely on their own watchdog.
   */
  timeoutMs?: number;
  /** Called with the HTTP status as soon as the response starts (a watch: when it is open). */
  onResponse?: (status: number) => void;
}

export interface KubeClientOptions {
  userAgent?: string;
  requestTimeoutMs?: number;
  onRequest?: (record: RequestRecord) => void;
}

export class KubeClient {
  private agent: http.Agent | undefined;
  private readonly server: URL;
  private readonly timeoutMs: number;
  private readonly halted = new AbortController();

  constructor(
    readonly kubeConfig: KubeConfig,
    private readonly options: KubeClientOptions = {},
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
    // Every request in flight listens to it (watches included): no leak, just many listeners.
    setMaxListeners(0, this.halted.signal);
  }

  /**
   * Aborts every request in flight and fails every later one: an operator that lost its lease
   * must not write beside the new leader, not even the reconciles it was in the middle of.
   */
  halt(reason: string): void {
    this.halted.abort(new TransportError(`client halted: ${reason}`));
  }

  /** A JSON request; resolves with the parsed body, rejects with ApiError / TransportError. */
  async request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const { status, body } = await this.send(method, path, options, undefined);
    if (status >= 400) throw toApiError(status, body);
    return (body.length ? JSON.parse(body) : undefined) as T;
  }

  /**
   * A streaming GET (watch): calls `onLine` for each newline-delimited JSON object and resolves
   * when the server ends the stream; rejects on HTTP errors and transport errors, and with an
   * AbortError when `signal` aborts.
   */
  async stream(path: string, options: RequestOptions, onLine: (value: unknown) => void): Promise<void> {
    const { status, body } = await this.send('GET', path, { ...options, timeoutMs: 0 }, onLine);
    if (status >= 400) throw toApiError(status, body);
  }

  private async send(
    method: string,
    path: string,
    options: RequestOptions,
    onLine: ((value: unknown) => void) | undefined,
  ): Promise<{ status: number; body: string }> {
    if (this.halted.signal.aborted) throw this.halted.signal.reason;
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.halted.signal])
      : this.halted.signal;
    const started = performance.now();
    const url = new URL(path, this.server);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const tls: https.RequestOptions = {};
    await this.kubeConfig.applyToHTTPSOptions(tls);
    const headers: Record<string, string> = { Accept: 'application/json' };
    for (const [key, value] of Object.entries(tls.headers ?? {})) {
      if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    if (this.options.userAgent) headers['User-Agent'] = this.options.userAgent;
    let payload: string | undefined;
    if (options.body !== undefined) {
      payload = JSON.stringify(options.body);
      headers['Content-Type'] = options.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const agent = this.agentFor(tls);
    const transport = url.protocol === 'https:' ? https : http;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    let status = 0;
    try {
      const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = transport.request(url, {
          method,
          headers,
          agent,
          ...(tls.auth ? { auth: tls.auth } : {}),
          signal,
        });
        if (timeoutMs > 0) {
          request.setTimeout(timeoutMs, () =>
            request.destroy(new TransportError(`${method} ${url.pathname} timed out after ${timeoutMs} ms`)),
          );
        }
        request.on('error', (error) => reject(wrapTransport(error)));
        request.on('response', (response) => {
          status = response.statusCode ?? 0;
          options.onResponse?.(status);
          response.setEncoding('utf8');
          const streaming = onLine !== undefined && status < 400;
          if (streaming) response.socket?.setKeepAlive(true, 15_000);
          let buffered = '';
          response.on('data', (chunk: string) => {
            buffered += chunk;
            if (!streaming) return;
            let newline = buffered.indexOf('\n');
            while (newline >= 0) {
              const line = buffered.slice(0, newline).trim();
              buffered = buffered.slice(newline + 1);
              if (line) {
                try {
                  onLine(JSON.parse(line));
                } catch (error) {
                  response.destroy(error as Error);
                  return;
                }
              }
              newline = buffered.indexOf('\n');
            }
          });
          response.on('error', (error) => reject(wrapTransport(error)));
          response.on('aborted', () => reject(new TransportError('response aborted')));
          response.on('end', () => resolve({ status, body: streaming ? '' : buffered }));
          // Destroyed before its end (abort, reset): settle rather than hang (the first settle wins).
          response.on('close', () => {
            if (!response.complete) reject(new TransportError('connection closed before the response ended'));
          });
        });
        request.end(payload);
      });
      return result;
    } finally {
      this.options.onRequest?.({
        verb: verbOf(method, url, onLine !== undefined),
        resource: resourceOf(url.pathname),
        code: status,
        elapsedMs: performance.now() - started,
      });
    }
  }

  private agentFor(tls: https.RequestOptions): http.Agent {
    if (!this.agent) {
      const common = { keepAlive: true, maxSockets: Number.POSITIVE_INFINITY, maxFreeSockets: 16 };
      this.agent =
        this.server.protocol === 'https:'
          ? new https.Agent({
              ...common,
              ca: tls.ca,
              cert: tls.cert,
              key: tls.key,
              pfx: tls.pfx,
              passphrase: tls.passphrase,
              servername: tls.servername,
              ...(tls.rejectUnauthorized !== undefined ? { rejectUnauthorized: tls.rejectUnauthorized } : {}),
            })
          : new http.Agent(common);
    }
    return this.agent;
  }

  /** Closes idle keep-alive sockets so the process can exit. */
  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }
}

function toApiError(status: number, body: string): ApiError {
  try {
    const parsed = JSON.parse(body) as { reason?: string; message?: string; details?: unknown };
    return new ApiError(status, parsed.reason ?? '', parsed.message ?? body, parsed.details);
  } catch {
    return new ApiError(status, '', body.slice(0, 500) || `HTTP ${status}`);
  }
}

function wrapTransport(error: Error): Error {
  if (error.name === 'AbortError' || error instanceof TransportError) return error;
  const wrapped = new TransportError(error.message);
  wrapped.cause = error;
  return wrapped;
}

/** The verb as apiserver_request_total spells it (LIST, WATCH, GET, APPLY is a PATCH). */
function verbOf(method: string, url: URL, streaming: boolean): string {
  if (streaming || url.searchParams.get('watch') === 'true') return 'WATCH';
  if (method === 'GET') return isCollection(url.pathname) ? 'LIST' : 'GET';
  return method;
}

/** `/apis/apps/v1/namespaces/x/deployments/y/status` → `deployments/status`. */
export function resourceOf(pathname: string): string {
  const parts = pathname.split('/').filter(Boolean);
  const rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3);
  const tail = rest[0] === 'namespaces' && rest.length > 2 ? rest.slice(2) : rest;
  const [resource = 'unknown', , subresource] = tail;
  return subresource ? `${resource}/${subresource}` : resource;
}

function isCollection(pathname: string): boolean {
  const parts = pathname.split('/').filter(Boolean);
  const rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3);
  const tail = rest[0] === 'namespaces' && rest.length > 2 ? rest.slice(2) : rest;
  return tail.length === 1;
}
