import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { type WebSocket, WebSocketServer } from 'ws';
import { JobClientMessage, jobCloseCodes } from '../api/jobs.ts';
import { createLogger } from '../log.ts';
import type { JobRunner } from './runner.ts';

export interface JobServerOptions {
  /** How often slow WebSocket clients are checked for a drained buffer. */
  flushIntervalMs?: number;
  /** Largest client frame accepted (the only client message is a small `resume`). */
  maxPayloadBytes?: number;
}

const log = createLogger('jobs.server');

/** `afterSeq` from `?afterSeq=N`: resume at connect time, with no window for a race. */
function afterSeqFromQuery(url: URL): number | undefined {
  const raw = url.searchParams.get('afterSeq');
  if (raw === null) return undefined;
  const value = Number(raw);
  return Number.isInteger(value) && value >= 0 ? value : Number.NaN;
}

function reject(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/**
 * The runner's server: `GET /v1/jobs/{name}` (the snapshot the operator copies into the status),
 * `GET /healthz`, and the preview stream `/ws/jobs/{name}` (a `ws` server on the same port).
 * Built without listening, so tests can listen on port 0.
 */
export function buildJobServer(runner: JobRunner, options: JobServerOptions = {}): FastifyInstance {
  const app = Fastify({ logger: false });
  const { name } = runner.options;
  const sockets = new Set<WebSocket>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes ?? 4096 });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async () => ({ status: 'ok' }));
  app.get<{ Params: { name: string } }>('/v1/jobs/:name', async (request, reply) => {
    if (request.params.name !== name)
      return reply.code(404).send({ error: `no job "${request.params.name}" on this runner` });
    return runner.snapshot();
  });

  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(request.url ?? '/', 'http://runner');
    const match = /^\/ws\/jobs\/([^/]+)$/.exec(url.pathname);
    if (!match) return reject(socket, 404, 'Not Found');
    if (decodeURIComponent(match[1]!) !== name) return reject(socket, 404, 'Not Found');
    const afterSeq = afterSeqFromQuery(url);
    if (Number.isNaN(afterSeq)) return reject(socket, 400, 'Bad Request');
    wss.handleUpgrade(request, socket, head, (ws) => {
      sockets.add(ws);
      const subscriber = runner.stream.subscribe(ws, afterSeq);
      log.debug({ event: 'ws.connected', afterSeq, clients: sockets.size }, 'preview client connected');
      ws.on('message', (data, isBinary) => {
        let parsed: ReturnType<typeof JobClientMessage.safeParse>;
        try {
          parsed = JobClientMessage.safeParse(isBinary ? undefined : JSON.parse(String(data)));
        } catch {
          return ws.close(jobCloseCodes.invalidMessage, 'message is not JSON');
        }
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          const field = issue?.path.length ? issue.path.join('.') : 'message';
          return ws.close(
            jobCloseCodes.invalidMessage,
            `${field}: ${issue?.message ?? 'invalid'}`.slice(0, 120),
          );
        }
        runner.stream.resume(subscriber, parsed.data.afterSeq);
      });
      ws.on('close', () => {
        sockets.delete(ws);
        runner.stream.unsubscribe(subscriber);
      });
      ws.on('error', () => ws.terminate());
    });
  });

  const flush = setInterval(() => runner.stream.flush(), options.flushIntervalMs ?? 50);
  flush.unref();
  app.addHook('onClose', async () => {
    clearInterval(flush);
    for (const ws of sockets) ws.close(jobCloseCodes.goingAway, 'runner shutting down');
    // Clients get a moment for the close handshake; the rest are cut off.
    const deadline = Date.now() + 1000;
    while (sockets.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const ws of sockets) ws.terminate();
    wss.close();
  });
  return app;
}
