import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { CompletedMessage, JobServerMessage, PreviewMessage } from '../../../src/api/jobs.ts';
import { JobSnapshot } from '../../../src/api/jobs.ts';
import { loadInput } from '../../../src/jobs/input/load.ts';
import { JobRunner, type RunnerOptions } from '../../../src/jobs/runner.ts';
import { buildJobServer } from '../../../src/jobs/server.ts';
import { StreamClient, startTestRuntime } from './helpers.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serveRunner(
  options: Partial<RunnerOptions> & Pick<RunnerOptions, 'spec'>,
): Promise<{ runner: JobRunner; app: FastifyInstance; base: string; ws: string }> {
  const runner = new JobRunner({ name: 'digits', namespace: 'test', ...options });
  const app = buildJobServer(runner);
  await app.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(() => app.close());
  const { port } = app.server.address() as AddressInfo;
  return { runner, app, base: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}/ws/jobs/digits` };
}

const seqsOf = (messages: JobServerMessage[]): number[] =>
  [...new Set(messages.map((m) => m.seq))].sort((a, b) => a - b);
const contiguous = (seqs: number[]): boolean => seqs.every((seq, i) => seq === i + 1);

describe('job runner against the real runtime', () => {
  it('classifies the 10,000 committed test digits with accuracy >= 99.2%, streaming progress, previews and the summary', async () => {
    const runtime = await startTestRuntime();
    cleanups.push(() => runtime.close());
    const { runner, base, ws } = await serveRunner({ spec: { batchSize: 64, previewIntervalMs: 200 } });
    const client = new StreamClient(ws);
    await client.connect();
    cleanups.push(() => client.close());
    const outcome = await runner.run(async () => ({
      input: await loadInput({ dataset: 'mnist-test' }),
      modelEndpoint: runtime.infer,
    }));
    expect(outcome).toBe('Succeeded');
    await client.until(() => client.done);

    const snapshot = JobSnapshot.parse(await (await fetch(`${base}/v1/jobs/digits`)).json());
    expect(snapshot.phase).toBe('Succeeded');
    expect(snapshot.progress).toEqual({ processed: 10_000, total: 10_000, percent: 100 });
    const result = snapshot.result!;
    expect(result.classCounts.reduce((a, b) => a + b, 0)).toBe(10_000);
    expect(result.labelled).toBe(10_000);
    expect(result.accuracy).toBeGreaterThanOrEqual(0.992);
    expect(result.imagesPerSecond).toBeGreaterThan(0);
    expect(result.latencyMs.p99).toBeGreaterThanOrEqual(result.latencyMs.p50);
    console.log(
      `mnist-test: accuracy ${(result.accuracy! * 100).toFixed(2)}%, ${Math.round(result.imagesPerSecond)} images/s, p50 ${result.latencyMs.p50.toFixed(1)} ms, p99 ${result.latencyMs.p99.toFixed(1)} ms`,
    );

    // The stream: every message stamped, seq increasing, and the summary equal to the snapshot's.
    const { messages } = client;
    expect(messages.every((m) => m.jobId === 'digits' && m.ts > 0)).toBe(true);
    expect(contiguous(messages.map((m) => m.seq))).toBe(true);
    const completed = messages.at(-1) as CompletedMessage;
    expect(completed.type).toBe('completed');
    expect(completed.summary.result).toEqual(result);
    const progress = messages.filter((m) => m.type === 'progress');
    expect(progress.at(-1)).toMatchObject({ processed: 10_000, total: 10_000, percent: 100 });
    const preview = messages.filter((m): m is PreviewMessage => m.type === 'preview').at(-1)!;
    expect(preview).toMatchObject({
      dtype: 'uint8',
      scale: 255,
      shape: [224, 224],
      grid: { rows: 8, cols: 8, cell: 28 },
    });
    expect(Buffer.from(preview.payload, 'base64')).toHaveLength(224 * 224);
    expect(preview.labels).toHaveLength(64);
    // The newest previewed digits are the dataset's images, labelled with their predictions.
    const { labels } = await loadInput({ dataset: 'mnist-test' });
    const agree = preview.indices.filter((index, i) => labels![index] === preview.labels[i]).length;
    expect(agree).toBeGreaterThanOrEqual(60);
  });

  it('sends previews at previewIntervalMs (200 ms here, so that 2 s give ten): mean gap within 25%, no gap over 2.5x', async () => {
    const runtime = await startTestRuntime();
    cleanups.push(() => runtime.close());
    // Small batches one at a time keep the job busy for longer than the measurement.
    const { runner, ws } = await serveRunner({
      spec: { batchSize: 2, previewIntervalMs: 200 },
      concurrency: 1,
    });
    const client = new StreamClient(ws);
    await client.connect();
    cleanups.push(() => client.close());
    const run = runner.run(async () => ({
      input: await loadInput({ synthetic: { count: 1_000_000, seed: 1 } }),
      modelEndpoint: runtime.infer,
    }));
    await client.until((messages) => messages.filter((m) => m.type === 'preview').length >= 12, 20_000);
    runner.cancel('test over');
    expect(await run).toBe('Failed');
    const previews = client.messages.filter((m) => m.type === 'preview');
    const gaps = previews.slice(1).map((m, i) => m.ts - previews[i]!.ts);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    console.log(
      `preview gaps (ms): mean ${mean.toFixed(1)}, min ${Math.min(...gaps)}, max ${Math.max(...gaps)}`,
    );
    expect(mean).toBeGreaterThan(150);
    expect(mean).toBeLessThan(250);
    expect(Math.max(...gaps)).toBeLessThan(500);
  });

  it('a client that disconnects and resumes misses no seq (query afterSeq and the resume message)', async () => {
    const runtime = await startTestRuntime();
    cleanups.push(() => runtime.close());
    const { runner, ws } = await serveRunner({
      spec: { batchSize: 16, previewIntervalMs: 100 },
      concurrency: 1,
      progressIntervalMs: 20,
    });
    const run = runner.run(async () => ({
      input: await loadInput({ dataset: 'mnist-test' }),
      modelEndpoint: runtime.infer,
    }));
    const seen: JobServerMessage[] = [];
    const lastSeen = () => Math.max(...seen.map((m) => m.seq));
    // How many messages the runner produced while the client was away: each resume must replay them.
    const missed: number[] = [];

    const first = new StreamClient(ws);
    await first.connect('?afterSeq=0');
    await first.until((messages) => messages.length >= 10);
    await first.close();
    seen.push(...first.messages);
    await new Promise((resolve) => setTimeout(resolve, 300)); // messages go by while it is away

    missed.push(runner.stream.seq - lastSeen());
    const second = new StreamClient(ws);
    await second.connect(`?afterSeq=${lastSeen()}`);
    await second.until((messages) => messages.length >= 10);
    await second.close();
    seen.push(...second.messages);
    await new Promise((resolve) => setTimeout(resolve, 300));

    missed.push(runner.stream.seq - lastSeen());
    const third = new StreamClient(ws);
    await third.connect();
    third.send({ type: 'resume', afterSeq: lastSeen() });
    cleanups.push(() => third.close());
    await third.until(() => third.done, 60_000);
    seen.push(...third.messages);
    expect(await run).toBe('Succeeded');

    const seqs = seqsOf(seen);
    expect(missed.every((count) => count > 0)).toBe(true);
    expect(contiguous(seqs)).toBe(true);
    expect(seqs.at(-1)).toBe(runner.stream.seq);
  });

  it('a runtime restarted mid-job costs retries, not lost or double-counted images', async () => {
    const first = await startTestRuntime();
    const port = Number(new URL(first.url).port);
    const { runner, base } = await serveRunner({
      spec: { batchSize: 32, previewIntervalMs: 1000 },
      concurrency: 2,
      retry: { initialDelayMs: 20, maxDelayMs: 200, giveUpAfterMs: 30_000, requestTimeoutMs: 10_000 },
    });
    const run = runner.run(async () => ({
      input: await loadInput({ dataset: 'mnist-test' }),
      modelEndpoint: first.infer,
    }));
    // Stop the runtime once some of the job is done, keep it down a moment, bring it back.
    for (;;) {
      const snapshot = JobSnapshot.parse(await (await fetch(`${base}/v1/jobs/digits`)).json());
      if (snapshot.progress.processed >= 1000) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await first.close();
    const during = JobSnapshot.parse(await (await fetch(`${base}/v1/jobs/digits`)).json());
    expect(during.progress.processed).toBeLessThan(10_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const second = await startTestRuntime(port);
    cleanups.push(() => second.close());

    expect(await run).toBe('Succeeded');
    const { progress, result } = runner.snapshot();
    expect(progress.processed).toBe(10_000);
    expect(result!.classCounts.reduce((a, b) => a + b, 0)).toBe(10_000);
    expect(result!.labelled).toBe(10_000);
    expect(result!.retries).toBeGreaterThan(0);
    expect(result!.accuracy).toBeGreaterThanOrEqual(0.992);
    console.log(
      `runtime restart: ${result!.retries} retries, accuracy ${(result!.accuracy! * 100).toFixed(2)}%`,
    );
  });
});
