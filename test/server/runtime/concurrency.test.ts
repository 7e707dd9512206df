import ort from 'onnxruntime-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadMnistTest } from '../../../src/datasets/idx.ts';
import { fromPixels } from '../../../src/runtime/preprocess/index.ts';
import type { RunningRuntime } from '../../../src/runtime/server.ts';
import { postJson, startTestRuntime, testModelPath } from './helpers.ts';

// 1,000 requests in flight at once, each with a different real digit, through two workers and the
// dynamic batcher: every answer must be the one single-image inference gives for that digit.

const N = 1000;
const digits = await loadMnistTest();
const raw = (i: number) => digits.images.subarray(i * 784, (i + 1) * 784);
let runtime: RunningRuntime;

beforeAll(async () => {
  // fetch may open a connection per concurrent request: room above N, so this tests batching only
  // (the connection limit has its own test, connection-limit.test.ts).
  runtime = await startTestRuntime({ workers: 2, maxBatchSize: 64, maxDelayMs: 2, maxConnections: 4 * N });
});
afterAll(async () => {
  await runtime?.close();
});

it('answers 1,000 concurrent requests, each with its own correct prediction', async () => {
  // Reference: the model run on one image at a time in this process, no batching.
  const session = await ort.InferenceSession.create(testModelPath);
  const inputs = Array.from({ length: N }, (_, i) =>
    i % 2 === 0 ? Float32Array.from(raw(i), (v) => v / 255) : fromPixels(raw(i)),
  );
  const expected: Float32Array[] = [];
  for (const input of inputs) {
    const out = await session.run({ input: new ort.Tensor('float32', input, [1, 1, 28, 28]) });
    expected.push(out.probabilities!.data as Float32Array);
  }
  await session.release();

  const responses = await Promise.all(
    Array.from({ length: N }, (_, i) =>
      i % 2 === 0
        ? postJson(`${runtime.url}/v2/models/mnist-cnn/infer`, {
            id: `digit-${i}`,
            inputs: [
              { name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', data: Array.from(inputs[i]!) },
            ],
          })
        : postJson(`${runtime.url}/v1/predict`, { pixels: Array.from(raw(i)) }),
    ),
  );
  let wrong = 0;
  responses.forEach((response, i) => {
    expect(response.status).toBe(200);
    const got: number[] = i % 2 === 0 ? response.body.outputs[0].data : response.body.probabilities;
    if (i % 2 === 0) expect(response.body.id).toBe(`digit-${i}`);
    for (let k = 0; k < 10; k++) if (Math.abs(got[k]! - expected[i]![k]!) > 1e-4) wrong++;
  });
  expect(wrong).toBe(0);

  // Every image went through the model exactly once, and concurrent requests shared batches.
  const metrics = await (await fetch(`${runtime.url}/metrics`)).text();
  const batches = Number(/^kinfer_batch_size_count (\d+)/m.exec(metrics)?.[1]);
  const images = Number(/^kinfer_batch_size_sum (\d+)/m.exec(metrics)?.[1]);
  const single = Number(/^kinfer_batch_size_bucket\{le="1"\} (\d+)/m.exec(metrics)?.[1]);
  expect(images).toBe(N);
  expect(single).toBeLessThan(batches);
});
