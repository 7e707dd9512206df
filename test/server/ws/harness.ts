import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { MessageId, ServerMessage } from '../../../src/api/ws.ts';
import { ServerMessage as ServerMessageSchema } from '../../../src/api/ws.ts';
import { bundledModelPath, runtimeConfigSchema } from '../../../src/runtime/config.ts';
import { type RunningRuntime, startRuntime } from '../../../src/runtime/server.ts';

export interface TestRuntime extends RunningRuntime {
  /** `ws://127.0.0.1:PORT/ws` */
  wsUrl: string;
}

/**
 * The real runtime (config schema, predictor with worker threads, buildApp, /ws) on a loopback
 * port, with the bundled model (or KINFER_MODEL). `settings` are runtime configuration keys.
 */
export async function startTestRuntime(settings: Record<string, unknown> = {}): Promise<TestRuntime> {
  const { token, ...rest } = settings;
  let authTokenFile: string | undefined;
  if (typeof token === 'string') {
    authTokenFile = join(mkdtempSync(join(tmpdir(), 'kinfer-ws-')), 'token');
    writeFileSync(authTokenFile, token);
  }
  const config = runtimeConfigSchema.parse({
    port: 0,
    host: '127.0.0.1',
    model: process.env.KINFER_MODEL ?? bundledModelPath,
    logLevel: 'error',
    workers: 1,
    ...(authTokenFile ? { authTokenFile } : {}),
    ...rest,
  });
  const runtime = await startRuntime(config);
  await runtime.ready;
  return { ...runtime, wsUrl: `${runtime.url.replace(/^http/, 'ws')}/ws` };
}

/** A raw `ws` peer that records every server message and close, for protocol-level assertions. */
export class Peer {
  readonly messages: ServerMessage[] = [];
  readonly invalid: unknown[] = [];
  closed: { code: number; reason: string } | undefined;
  private waiters: (() => void)[] = [];
  private nextId = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const value = isBinary ? undefined : JSON.parse(data.toString());
      const parsed = ServerMessageSchema.safeParse(value);
      if (parsed.success) this.messages.push(parsed.data);
      else this.invalid.push(value ?? data);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    ws.on('error', () => {});
  }

  static async connect(
    url: string,
    options: WebSocket.ClientOptions & { protocols?: string[] } = {},
  ): Promise<Peer> {
    const { protocols, ...rest } = options;
    const peer = new Peer(new WebSocket(url, protocols ?? [], rest));
    await peer.until(() => peer.closed !== undefined || peer.messages.some((m) => m.type === 'welcome'));
    return peer;
  }

  get welcome() {
    const welcome = this.messages.find((m) => m.type === 'welcome');
    if (welcome?.type !== 'welcome') throw new Error('no welcome');
    return welcome;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message));
  }

  /** Resolves when `check` holds (re-checked on every message or close). */
  async until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline)
        throw new Error(`timed out; messages: ${JSON.stringify(this.messages.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The first message answering `id` (live predictions excluded). */
  async answer(id: MessageId, timeoutMs?: number): Promise<ServerMessage> {
    const find = () =>
      this.messages.find((m) => 'id' in m && m.id === id && !(m.type === 'prediction' && m.live));
    await this.until(() => find() !== undefined || this.closed !== undefined, timeoutMs);
    const found = find();
    if (!found) throw new Error(`closed ${JSON.stringify(this.closed)} before an answer to ${id}`);
    return found;
  }

  /** Sends `message` with a fresh id and waits for its answer. */
  async request(message: Record<string, unknown>): Promise<ServerMessage> {
    const id = `r${this.nextId++}`;
    this.send({ ...message, id });
    return this.answer(id);
  }

  async closedWith(timeoutMs?: number): Promise<{ code: number; reason: string }> {
    await this.until(() => this.closed !== undefined, timeoutMs);
    return this.closed as { code: number; reason: string };
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const closed = once(this.ws, 'close');
    this.ws.close();
    await closed;
  }

  private wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
}

/** Polls until `check` holds. */
export async function eventually(
  check: () => boolean,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
