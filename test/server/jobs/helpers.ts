import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { JobServerMessage } from '../../../src/api/jobs.ts';
import { runtimeConfigSchema } from '../../../src/runtime/config.ts';
import { type RunningRuntime, startRuntime } from '../../../src/runtime/server.ts';
import { testModelPath } from '../runtime/helpers.ts';

/** The real predictor runtime with the committed model, on loopback. */
export async function startTestRuntime(port = 0): Promise<RunningRuntime & { infer: string }> {
  const runtime = await startRuntime(
    runtimeConfigSchema.parse({ port, host: '127.0.0.1', model: testModelPath, logLevel: 'warn' }),
  );
  await runtime.ready;
  return Object.assign(runtime, { infer: `${runtime.url}/v2/models/mnist-cnn/infer` });
}

/** A preview-stream client that records every message it gets, each parsed by the wire schema. */
export class StreamClient {
  readonly messages: JobServerMessage[] = [];
  readonly arrivals: number[] = [];
  private ws: WebSocket | undefined;
  private waiters: (() => void)[] = [];

  constructor(private readonly url: string) {}

  get lastSeq(): number {
    return this.messages.reduce((max, m) => Math.max(max, m.seq), 0);
  }

  get done(): boolean {
    return this.messages.some((m) => m.type === 'completed' || m.type === 'error');
  }

  async connect(query = ''): Promise<void> {
    const ws = new WebSocket(`${this.url}${query}`);
    this.ws = ws;
    ws.on('message', (data) => {
      this.messages.push(JobServerMessage.parse(JSON.parse(String(data))));
      this.arrivals.push(performance.now());
      for (const wake of this.waiters.splice(0)) wake();
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
  }

  send(message: unknown): void {
    this.ws?.send(JSON.stringify(message));
  }

  async close(): Promise<void> {
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.close();
    });
  }

  /** Resolves once `check` holds for the messages so far (or rejects after `timeoutMs`). */
  async until(check: (messages: JobServerMessage[]) => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check(this.messages)) {
      if (Date.now() > deadline)
        throw new Error(`stream condition not met after ${timeoutMs} ms (${this.messages.length} messages)`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }
}

/** `kinfer job` as a child process; resolves once it logged the port it listens on. */
export async function spawnRunner(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ child: ChildProcess; port: number; exit: Promise<number | null>; logs: string[] }> {
  const child = spawn(process.execPath, ['bin/kinfer.js', 'job', ...args], {
    cwd: new URL('../../..', import.meta.url).pathname,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      logs.push(line);
      try {
        const entry = JSON.parse(line) as { event?: string; port?: number };
        if (entry.event === 'job.listening' && entry.port) resolve(entry.port);
      } catch {}
    });
    child.stderr!.on('data', (chunk) => logs.push(String(chunk)));
    void exit.then((code) =>
      reject(new Error(`runner exited with ${code} before listening:\n${logs.join('\n')}`)),
    );
  });
  return { child, port, exit, logs };
}
