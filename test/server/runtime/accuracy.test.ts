import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadMnistTest } from '../../../src/datasets/idx.ts';
import type { RunningRuntime } from '../../../src/runtime/server.ts';
import { pngOf, postJson, startTestRuntime } from './helpers.ts';

// The committed test digits sent as PNG files through /v1/predict: proves the PNG decoding and
// the MNIST-style preprocessing in front of the model, not just the model.

const digits = await loadMnistTest();
let runtime: RunningRuntime;

beforeAll(async () => {
  runtime = await startTestRuntime({ workers: 2, maxV2Batch: 500, queueLimit: 2000 });
});
afterAll(async () => {
  await runtime?.close();
});

async function accuracy(indices: number[], invert: boolean): Promise<number> {
  let correct = 0;
  for (let start = 0; start < indices.length; start += 500) {
    const chunk = indices.slice(start, start + 500);
    const instances = chunk.map((i) => ({
      image: pngOf(digits.images.subarray(i * 784, (i + 1) * 784), invert).toString('base64'),
    }));
    const { status, body } = await postJson(`${runtime.url}/v1/predict`, { instances });
    expect(status).toBe(200);
    body.predictions.forEach((p: { prediction: number }, k: number) => {
      if (p.prediction === digits.labels[chunk[k]!]) correct++;
    });
  }
  return correct / indices.length;
}

it('classifies all 10,000 test digits sent as PNG with at least 99% accuracy', async () => {
  const all = Array.from({ length: digits.count }, (_, i) => i);
  expect(digits.count).toBe(10_000);
  expect(await accuracy(all, false)).toBeGreaterThanOrEqual(0.99);
});

it('classifies 2,000 of them drawn dark on light just as well', async () => {
  const some = Array.from({ length: 2000 }, (_, i) => i * 5);
  expect(await accuracy(some, true)).toBeGreaterThanOrEqual(0.99);
});
