import { request } from 'node:https';

/** Client credentials for the raw HTTPS calls the harness makes (no client library needed). */
export interface KubeConnection {
  server: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export interface KubeResponse {
  status: number;
  body: string;
}

export class KubeRequestError extends Error {
  readonly code = 'kube_request_failed';
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`${method} ${path}: HTTP ${status}: ${body.slice(0, 500)}`);
  }
}

/** One HTTPS request to the apiserver; resolves with any status, rejects only on network errors. */
export function kubeRequest(
  connection: KubeConnection,
  method: string,
  path: string,
  options: { body?: string; contentType?: string; timeoutMs?: number } = {},
): Promise<KubeResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, connection.server),
      {
        method,
        ca: connection.ca,
        cert: connection.cert,
        key: connection.key,
        headers: {
          accept: 'application/json',
          ...(options.body === undefined
            ? {}
            : { 'content-type': options.contentType ?? 'application/json' }),
        },
        timeout: options.timeoutMs ?? 10_000,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Like kubeRequest, but any status outside 2xx rejects with KubeRequestError. */
export async function kubeRequestOk(
  connection: KubeConnection,
  method: string,
  path: string,
  options: { body?: string; contentType?: string; timeoutMs?: number } = {},
): Promise<KubeResponse> {
  const response = await kubeRequest(connection, method, path, options);
  if (response.status < 200 || response.status > 299) {
    throw new KubeRequestError(method, path, response.status, response.body);
  }
  return response;
}

/** Server-side apply of one object (JSON body), with force so the harness always wins. */
export async function serverSideApply(
  connection: KubeConnection,
  path: string,
  object: unknown,
  fieldManager = 'kinfer-test-harness',
): Promise<void> {
  await kubeRequestOk(connection, 'PATCH', `${path}?fieldManager=${fieldManager}&force=true`, {
    body: JSON.stringify(object),
    contentType: 'application/apply-patch+yaml',
  });
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `check` until it returns a value other than undefined, or fails after `timeoutMs` with
 * the last reason `check` gave (or the last error it threw), so a timeout says what was missing.
 */
export async function pollUntil<T>(
  what: string,
  check: () => Promise<T | undefined>,
  options: { timeoutMs?: number; intervalMs?: number; signal?: AbortSignal } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let interval = Math.min(options.intervalMs ?? 100, 50);
  let last = 'never checked';
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const value = await check();
      if (value !== undefined) return value;
      last = 'not yet';
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await sleep(interval);
    interval = Math.min(interval * 2, options.intervalMs ?? 100);
  }
}
