import type { Worker } from 'node:worker_threads';
import { afterEach, expect, it } from 'vitest';
import type { RunningRuntime } from '../../../src/runtime/server.ts';
import { postJson, startTestRuntime } from './helpers.ts';

// An inference worker thread that dies with work queued on it: every request in flight on it is
// answered with an error code (none hangs), the pool starts a replacement, and serving resumes.
//
// The worker is terminated as the first batch is handed to it (its postMessage replaced), so the
// batch is pending on a dead worker. Terminating it inside onnxruntime's session.run instead
// aborts the whole process ("terminate called after throwing an instance of 'Napi::Error'"), so
// the pool itself only ever terminates workers that are idle.

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

it('fails the requests queued on a terminated worker with a clear 500/503, replaces it, and serves again', async () => {
  runtime = await startTestRuntime({ workers: 1, maxBatchSize: 64, queueLimit: 20_000 });
  const r = runtime;
  const [slot] = slotsOf(r);
  slot!.worker.postMessage = () => void slot!.worker.terminate();
  const answers = await Promise.all(Array.from({ length: 5 }, () => infer(r.url, 64)));
  expect(answers.map((a) => a.body.error)).toContain(
    'the inference worker stopped while running this request',
  );
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
  expect((await postJson(`${r.url}/v1/predict`, { pixels: new Array(784).fill(9) })).status).toBe(200);
});
