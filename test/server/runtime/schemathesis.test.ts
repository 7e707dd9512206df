import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningRuntime } from '../../../src/runtime/server.ts';
import { startTestRuntime } from './helpers.ts';

// A fuzzer nobody on the project wrote: schemathesis (PyPI, installed by .ci/run into a venv
// cached outside the clone) against a live runtime's OpenAPI document, every operation, with the
// bearer token and without it. It fails on any 5xx, any response that breaks its documented
// schema or content type, and any status code the document does not list.

const root = join(import.meta.dirname, '..', '..', '..');
const token = 'schemathesis-token';
const checks = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_schema_conformance',
].join(',');

/** The venv .ci/run makes (version pinned in .ci/schemathesis.env). */
function schemathesisPython(): string {
  const version = /^SCHEMATHESIS_VERSION=(\S+)$/m.exec(
    readFileSync(join(root, '.ci', 'schemathesis.env'), 'utf8'),
  )?.[1];
  if (!version) throw new Error('.ci/schemathesis.env has no SCHEMATHESIS_VERSION');
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const venv = join(base, 'kinfer', `venv-schemathesis-${version}`);
  if (!existsSync(join(venv, '.complete')))
    throw new Error(`schemathesis ${version} is missing at ${venv}: run .ci/run, which installs it`);
  return join(venv, 'bin', 'python');
}

let runtime: RunningRuntime;
let schemaFile: string;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kinfer-schemathesis-'));
  writeFileSync(join(dir, 'token'), token);
  runtime = await startTestRuntime({ authTokenFile: join(dir, 'token'), maxV2Batch: 64, queueLimit: 4096 });
  // The document itself needs the token; schemathesis reads it from a file either way.
  const doc = await fetch(`${runtime.url}/docs/json`, { headers: { authorization: `Bearer ${token}` } });
  expect(doc.status).toBe(200);
  schemaFile = join(dir, 'openapi.json');
  writeFileSync(schemaFile, await doc.text());
});
afterAll(async () => {
  await runtime?.close();
});

function schemathesis(headers: string[]): Promise<{ code: number | null; output: string }> {
  const args = ['-m', 'schemathesis.cli', 'run', schemaFile, '--url', runtime.url];
  args.push('--checks', checks, '--phases', 'examples,coverage,fuzzing', '--max-examples', '15');
  args.push('--seed', '13', '--workers', '2', '--no-color', '--request-timeout', '20');
  args.push('--generation-database', 'none');
  for (const header of headers) args.push('-H', header);
  // In a scratch directory: schemathesis leaves its reports and caches where it runs.
  const cwd = mkdtempSync(join(tmpdir(), 'kinfer-schemathesis-run-'));
  const child = spawn(schemathesisPython(), args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

it.each([
  ['with the bearer token', [`Authorization: Bearer ${token}`]],
  ['without a token', []],
])(
  'schemathesis finds nothing %s',
  async (_name, headers) => {
    const { code, output } = await schemathesis(headers);
    expect(output).toMatch(/passed/);
    expect(code, output).toBe(0);
  },
  180_000,
);
