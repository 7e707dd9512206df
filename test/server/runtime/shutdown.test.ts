import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { testModelPath } from './helpers.ts';

// The real `kinfer runtime` process and a real SIGTERM: requests in flight when the signal
// arrives are all answered, new connections are refused, and the process exits 0.

const bin = fileURLToPath(new URL('../../../bin/kinfer.js', import.meta.url));
let child: ChildProcess | undefined;

afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
});

/** Starts the runtime and resolves with its URL once it logs that the model is ready. */
async function startProcess(args: string[]): Promise<{ url: string; logs: string[] }> {
  child = spawn(
    process.execPath,
    [bin, 'runtime', '--host', '127.0.0.1', '--port', '0', '--model', testModelPath, ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: string[] = [];
  let url = '';
  let buffered = '';
  return new Promise((resolve, reject) => {
    child!.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
        logs.push(line);
        const entry = JSON.parse(line) as { event?: string; address?: string };
        if (entry.event === 'server.listening') url = entry.address!;
        if (entry.event === 'model.ready') resolve({ url, logs });
      }
    });
    child!.stderr!.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
    child!.once('exit', (code) => reject(new Error(`runtime exited with ${code}: ${logs.join('\n')}`)));
  });
}

it('SIGTERM: finishes every in-flight request, refuses new connections, exits 0', async () => {
  const { url, logs } = await startProcess([
    '--workers',
    '1',
    '--max-batch-size',
    '64',
    '--queue-limit',
    '20000',
  ]);
  // Enough work (10,240 images) that much of it is still queued or running when the signal lands.
  const body = JSON.stringify({
    inputs: [
      { name: 'input', shape: [256, 1, 28, 28], datatype: 'FP32', data: new Array(256 * 784).fill(0) },
    ],
  });
  const post = async () => {
    const response = await fetch(`${url}/v2/models/mnist-cnn/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    return { response, at: performance.now() };
  };
  const inFlight = Array.from({ length: 40 }, post);
  // Signal only once the server has every request (later ones would rightly get 503 + close):
  // those in flight (less this /metrics request) plus those already answered, which on a quiet
  // machine can start before the last of the 40 uploads has arrived.
  for (;;) {
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const inFlightNow = Number(/^kinfer_http_requests_in_flight (\d+)/m.exec(metrics)?.[1]) - 1;
    const answered = [
      ...metrics.matchAll(/^kinfer_http_requests_total\{[^}]*route="[^"]*infer"[^}]*\} (\d+)/gm),
    ]
      .map((match) => Number(match[1]))
      .reduce((sum, count) => sum + count, 0);
    if (inFlightNow + answered >= 40) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const exited = once(child!, 'exit');
  const signalledAt = performance.now();
  child!.kill('SIGTERM');

  const answers = await Promise.all(inFlight);
  for (const { response } of answers) {
    expect(response.status).toBe(200);
    expect(((await response.json()) as { outputs: { data: unknown[] }[] }).outputs[0]!.data).toHaveLength(
      2560,
    );
  }
  // The test means something only if requests were still in flight when the signal arrived.
  expect(answers.filter((a) => a.at > signalledAt).length).toBeGreaterThan(0);
  const [code] = await exited;
  expect(code).toBe(0);
  await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  const events = logs.map((l) =>
    l.startsWith('{') ? (JSON.parse(l) as { event?: string }).event : undefined,
  );
  expect(events).toEqual(expect.arrayContaining(['signal', 'server.draining', 'server.closed']));
});

it('SIGTERM with a connection that never sends a request (a browser preconnect): exits 0 at once', async () => {
  const { url, logs } = await startProcess(['--workers', '1']);
  const { hostname, port } = new URL(url);
  const silent = connect(Number(port), hostname);
  silent.on('error', () => {});
  await once(silent, 'connect');
  const exited = once(child!, 'exit');
  const signalledAt = performance.now();
  child!.kill('SIGTERM');
  const [code] = await exited;
  const tookMs = performance.now() - signalledAt;
  silent.destroy();
  expect(code).toBe(0);
  // Node alone would hold the close for its 60 s headers timeout, past Kubernetes' 30 s grace.
  expect(tookMs, logs.join('\n')).toBeLessThan(10_000);
});

it('exits with status 2 and names the setting when the configuration is wrong', async () => {
  child = spawn(process.execPath, [bin, 'runtime', '--port', 'eighty'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = await once(child, 'exit');
  expect(code).toBe(2);
  expect(stderr).toMatch(/kinfer: --port: /);
});

it('exits with status 1 when the model cannot be served', async () => {
  child = spawn(
    process.execPath,
    [
      bin,
      'runtime',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--model',
      '/nonexistent/model.onnx',
      // Not /dev/termination-log: this is no pod (load-failure.test.ts covers the file).
      '--termination-log-path',
      '/nonexistent/termination-log',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const [code] = await once(child, 'exit');
  expect(code).toBe(1);
  expect(stdout).toMatch(/"event":"model.load_failed".*cannot read model \/nonexistent\/model.onnx/);
});
