import WebSocket, { type ClientOptions } from 'ws';
import { JobServerMessage } from '../api/jobs.ts';
import { backoffDelay, defaultBackoff } from '../shared/backoff.ts';

export interface JobStreamOptions {
  /** `ws://…/ws/jobs/NAME` (or the apiserver's service-proxy URL of it). */
  url: string;
  /** TLS material and headers (the apiserver proxy needs the kubeconfig's credentials). */
  socket?: ClientOptions;
  onMessage(message: JobServerMessage): void;
  onStatus?(status: { connected: boolean; attempt: number; reason?: string }): void;
  /** Give up after this many failed connects in a row. */
  maxAttempts?: number;
}

/**
 * Follows one job's preview stream to its end: reconnects with backoff and resumes after the
 * last seq it saw (`?afterSeq=N`), drops any seq it has already delivered, and resolves with the
 * final `completed` or `error` message.
 */
export function followJob(options: JobStreamOptions): { done: Promise<JobServerMessage>; close(): void } {
  let lastSeq = 0;
  let attempt = 0;
  let closed = false;
  let current: WebSocket | undefined;
  let timer: NodeJS.Timeout | undefined;
  let settle!: { resolve(message: JobServerMessage): void; reject(error: Error): void };
  const done = new Promise<JobServerMessage>((resolve, reject) => {
    settle = { resolve, reject };
  });

  const connect = (): void => {
    const url = new URL(options.url);
    if (lastSeq > 0) url.searchParams.set('afterSeq', String(lastSeq));
    const ws = new WebSocket(url, options.socket);
    current = ws;
    let reason = '';
    ws.on('open', () => {
      attempt = 0;
      options.onStatus?.({ connected: true, attempt });
    });
    ws.on('message', (data) => {
      let message: JobServerMessage;
      try {
        message = JobServerMessage.parse(JSON.parse(String(data)));
      } catch (error) {
        reason = `invalid message: ${(error as Error).message}`;
        ws.close();
        return;
      }
      if (message.seq <= lastSeq) return;
      lastSeq = message.seq;
      options.onMessage(message);
      if (message.type === 'completed' || message.type === 'error') {
        closed = true;
        ws.close();
        settle.resolve(message);
      }
    });
    ws.on('error', (error) => {
      reason = error.message;
    });
    ws.on('close', (code, why) => {
      if (closed) return;
      attempt += 1;
      const text = reason || `closed (${code}${why.length ? `: ${why}` : ''})`;
      options.onStatus?.({ connected: false, attempt, reason: text });
      if (attempt >= (options.maxAttempts ?? 20)) {
        closed = true;
        settle.reject(new Error(`lost the preview stream: ${text}`));
        return;
      }
      timer = setTimeout(connect, backoffDelay(attempt - 1, defaultBackoff));
    });
  };
  connect();
  return {
    done,
    close: () => {
      closed = true;
      clearTimeout(timer);
      current?.close();
    },
  };
}
