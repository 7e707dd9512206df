import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, expect, it } from 'vitest';
import { parseTerminationMessage } from '../../../src/operator/modeldeployment/status.ts';
import { testModelPath } from './helpers.ts';

// The real `kinfer runtime` process with a model it cannot serve: it exits 1 and leaves
// `Reason: why` in the termination-message file, which the operator turns into Degraded.
// The operator's own parser reads the file here, so the two cannot drift apart.

const bin = fileURLToPath(new URL('../../../bin/kinfer.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kinfer-termination-'));
let child: ChildProcess | undefined;

afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function runRuntime(args: string[]): Promise<{ code: number | null; stdout: string }> {
  child = spawn(process.execPath, [bin, 'runtime', '--host', '127.0.0.1', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout };
}

it('missing model file: exits 1 with ModelLoadFailed in the termination log', async () => {
  const log = join(dir, 'missing');
  const { code } = await runRuntime(['--model', '/nonexistent/model.onnx', '--termination-log-path', log]);
  expect(code).toBe(1);
  const text = readFileSync(log, 'utf8');
  expect(text).toMatch(/^ModelLoadFailed: cannot read model \/nonexistent\/model\.onnx: ENOENT/);
  expect(parseTerminationMessage(text)).toMatchObject({ reason: 'ModelLoadFailed' });
});

it('sha256 mismatch: exits 1 with ModelChecksumMismatch, expected and got', async () => {
  const log = join(dir, 'mismatch');
  const expected = 'ab'.repeat(32);
  const { code } = await runRuntime([
    '--model',
    testModelPath,
    '--sha256',
    expected,
    '--termination-log-path',
    log,
  ]);
  expect(code).toBe(1);
  const text = readFileSync(log, 'utf8');
  expect(text).toMatch(new RegExp(`^ModelChecksumMismatch: .*expected ${expected}, got [0-9a-f]{64}\\n$`));
  expect(parseTerminationMessage(text)).toMatchObject({ reason: 'ModelChecksumMismatch' });
});

it('a file that is not ONNX: exits 1 with ModelLoadFailed from onnxruntime', async () => {
  const log = join(dir, 'invalid');
  const model = join(dir, 'not-a-model.onnx');
  writeFileSync(model, 'this is not a protobuf');
  const { code } = await runRuntime(['--model', model, '--termination-log-path', log]);
  expect(code).toBe(1);
  const text = readFileSync(log, 'utf8');
  expect(text).toMatch(/^ModelLoadFailed: cannot load the model: /);
  expect(parseTerminationMessage(text)?.message.length).toBeGreaterThan(30);
});

it('a termination-log directory that does not exist: still exits 1, the reason in the log', async () => {
  const { code, stdout } = await runRuntime([
    '--model',
    '/nonexistent/model.onnx',
    '--termination-log-path',
    join(dir, 'no-such-dir', 'termination-log'),
  ]);
  expect(code).toBe(1);
  expect(stdout).toMatch(/"event":"model.load_failed".*"reason":"ModelLoadFailed"/);
});
