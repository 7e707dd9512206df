import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { bundledModelPath } from '../../../src/runtime/config.ts';

// What a hostile WebSocket client costs in logs: a malformed frame is the client's problem, one
// short debug line at most, never a stack trace at info level (the real process, its real stdout).

const bin = fileURLToPath(new URL('../../../bin/kinfer.js', import.meta.url));
let child: ChildProcess;
let stdout = '';
let port = 0;

beforeAll(async () => {
  child = spawn(
    process.execPath,
    [bin, 'runtime', '--host', '127.0.0.1', '--port', '0', '--workers', '1', '--model', bundledModelPath],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, KINFER_LOG_LEVEL: 'info' } },
  );
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const deadline = Date.now() + 30_000;
  while (!/"event":"model.ready"/.test(stdout)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`runtime did not start: ${stdout}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  port = Number(/"address":"http:\/\/[^"]*:(\d+)"/.exec(stdout)![1]);
});
afterAll(() => {
  child?.kill('SIGKILL');
});

/** Raw frame bytes sent on an open WebSocket's socket, bypassing the client's own checks. */
async function sendRawFrame(frame: Buffer): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  ws.on('error', () => {});
  await new Promise((resolve) => ws.once('message', resolve)); // welcome
  const closed = new Promise((resolve) => ws.once('close', resolve));
  (ws as unknown as { _socket: { write(b: Buffer): void } })._socket.write(frame);
  await closed;
}

it('logs malformed frames without a stack trace at info level', async () => {
  const before = stdout.length;
  const mask = Buffer.from([1, 2, 3, 4]);
  // RSV1 set without an extension; an unknown opcode; an unmasked client frame.
  await sendRawFrame(Buffer.concat([Buffer.from([0xc1, 0x82]), mask, Buffer.from([0x7a, 0x79])]));
  await sendRawFrame(Buffer.concat([Buffer.from([0x83, 0x82]), mask, Buffer.from([0x7a, 0x79])]));
  await sendRawFrame(Buffer.from([0x81, 0x02, 0x7b, 0x7d]));
  await new Promise((resolve) => setTimeout(resolve, 200));
  const lines = stdout.slice(before).split('\n').filter(Boolean);
  for (const line of lines) {
    expect(line).not.toMatch(/"stack"/);
    expect(line).not.toMatch(/ws\.protocol_error/); // debug, not info
  }
});
