import type { Worker } from 'node:worker_threads';
import { PNG } from 'pngjs';
import { afterEach, expect, it } from 'vitest';
import type { RunningRuntime } from '../../../src/runtime/server.ts';
import { postJson, startTestRuntime } from './helpers.ts';

// An inference worker thread that dies with work queued on it: every request in flight on it is
// answered with an error code (none hangs), the pool starts a replacement, and serving resumes.
//
// The worker is terminated while it decodes a large PNG (plain JS), with inference batches queued
// behind it. Terminating it inside onnxruntime's session.run instead aborts the whole process
// ("terminate called after throwing an instance of 'Napi::Error'"), so the pool itself only ever
// terminates workers that are idle.

let runtime: RunningRuntime | undefined;
afterEach(async () => {
  await runtime?.close();
  runtime = undefined;
});

/** The pool's worker threads (private: reached into on purpose, to kill one for real). */
const slotsOf = (r: RunningRuntime) =>
  (r.predictor as unknown as { pool: { slots: { worker: Worker; pending: Map<number, unknown> }[] } }).pool
    .slots;

const infer = (url: string, images: number) =>
  postJson(`${url}/v2/models/mnist-cnn/infer`, {
    inputs: [
      { name: 'input', shape: [images, 1, 28, 28], datatype: 'FP32', data: new Array(images * 784).fill(0) },
    ],
  });

/** A noisy 3000x3000 PNG: a few hundred ms to decode, so it goes to (and occupies) a worker. */
function largePng(): string {
  const size = 3000;
  const png = new PNG({ width: size, height: size });
  for (let i = 0; i < size * size; i++) {
    const v = (i * 2654435761) >>> 24;
    png.data.fill(v, i * 4, i * 4 + 3);
    png.data[i * 4 + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: 0 }).toString('base64');
}

it('fails the requests queued on a terminated worker with a clear 500/503, replaces it, and serves again', async () => {
  runtime = await startTestRuntime({ workers: 1, maxBatchSize: 64, queueLimit: 20_000 });
  const r = runtime;
  const image = largePng();
  const [slot] = slotsOf(r);
  const decoding = postJson(`${r.url}/v1/predict`, { image });
  while (slot!.pending.size === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  const batches = Array.from({ length: 5 }, () => infer(r.url, 64));
  while (slot!.pending.size < 2) await new Promise((resolve) => setTimeout(resolve, 1));
  await slot!.worker.terminate();

  const answers = await Promise.all([decoding, ...batches]);
  expect(answers[0]!.status).toBe(500);
  for (const answer of answers) {
    expect([500, 503]).toContain(answer.status);
    expect(answer.body.error).toMatch(/inference worker/);
  }

  // A fresh worker takes the dead one's place.
  const deadline = performance.now() + 20_000;
  let last = await infer(r.url, 1);
  while (last.status !== 200 && performance.now() < deadline) {
    expect(last.status).toBe(503);
    await new Promise((resolve) => setTimeout(resolve, 20));
    last = await infer(r.url, 1);
  }
  expect(last.status).toBe(200);
  expect(last.body.outputs[0].data).toHaveLength(10);
  expect(slotsOf(r)[0]!.worker).not.toBe(slot!.worker);
  expect((await postJson(`${r.url}/v1/predict`, { image })).status).toBe(200);
});
