import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobSnapshot, JobTerminationSummary } from '../../../src/api/jobs.ts';
import { spawnRunner, startTestRuntime } from './helpers.ts';

let runtime: Awaited<ReturnType<typeof startTestRuntime>>;
let dir: string;
beforeAll(async () => {
  runtime = await startTestRuntime();
  dir = await mkdtemp(join(tmpdir(), 'kinfer-job-cli-'));
});
afterAll(async () => {
  await runtime?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The summary a runner left at its --termination-log-path, parsed by the operator's schema. */
const terminationSummary = async (path: string) =>
  JobTerminationSummary.parse(JSON.parse(await readFile(path, 'utf8')));

/** `kinfer watch job NAME --url …` with a pipe for stdout (no TTY: plain progress lines). */
function watch(name: string, port: number): Promise<{ code: number | null; out: string }> {
  const child = spawn(
    process.execPath,
    ['bin/kinfer.js', 'watch', 'job', name, '-n', 'local', '--url', `ws://127.0.0.1:${port}/ws/jobs/${name}`],
    {
      cwd: new URL('../../..', import.meta.url).pathname,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (chunk) => {
    out += chunk;
  });
  child.stderr.on('data', (chunk) => {
    out += chunk;
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })));
}

const spec = (input: object, extra: object = {}) =>
  JSON.stringify({
    modelDeploymentRef: { name: 'mnist' },
    input,
    batchSize: 16,
    previewIntervalMs: 200,
    ...extra,
  });

/** `kinfer job` on loopback against the test runtime, its termination summary written into `dir`. */
const localRunnerArgs = (name: string, lingerSeconds: number): string[] => [
  ...['--name', name, '--namespace', 'dev', '--port', '0', '--host', '127.0.0.1'],
  ...['--model-endpoint', runtime.url, '--linger-seconds', String(lingerSeconds)],
  ...['--termination-log-path', join(dir, name)],
];

describe('kinfer job and kinfer watch as processes', () => {
  it('runs a job from --spec, serves its state while lingering, exits 0; watch shows progress and the summary', async () => {
    const runner = await spawnRunner([...localRunnerArgs('local', 3), '--concurrency', '1'], {
      KINFER_SPEC: spec({ synthetic: { count: 3000, seed: 4 } }),
    });
    const watched = watch('local', runner.port);
    const { code, out } = await watched;
    expect(code).toBe(0);
    expect(out).toMatch(/\[█+░*\]\s+\d+% \d+\/3000/);
    expect(out).toMatch(/classified 3000 images/);
    expect(out).toMatch(/accuracy \d+\.\d\d% over 3000 labelled images/);
    // Lingering: the final state is still served after the stream ended.
    const snapshot = JobSnapshot.parse(
      await (await fetch(`http://127.0.0.1:${runner.port}/v1/jobs/local`)).json(),
    );
    expect(snapshot).toMatchObject({
      phase: 'Succeeded',
      namespace: 'dev',
      progress: { processed: 3000, total: 3000 },
    });
    expect((await fetch(`http://127.0.0.1:${runner.port}/v1/jobs/other`)).status).toBe(404);
    // Written when the job ended, before lingering.
    const summary = await terminationSummary(join(dir, 'local'));
    expect(summary).toMatchObject({ phase: 'Succeeded', progress: { processed: 3000, total: 3000 } });
    expect(summary.result).toEqual(snapshot.result);
    expect(await runner.exit).toBe(0);
  });

  it('exits non-zero on a bad spec or an unusable input, and watch reports the failure', async () => {
    const bad = await spawnRunner(localRunnerArgs('bad', 2), {
      KINFER_SPEC: spec({ synthetic: { count: 10 } }, { batchSize: 5000 }),
    });
    const watched = await watch('bad', bad.port);
    expect(watched.code).toBe(1);
    expect(watched.out).toMatch(/job failed: input_invalid: KINFER_SPEC: spec\.batchSize/);
    expect(await bad.exit).toBe(1);
    expect(await terminationSummary(join(dir, 'bad'))).toMatchObject({
      phase: 'Failed',
      error: { code: 'input_invalid', message: expect.stringContaining('spec.batchSize') },
    });
  });
});
