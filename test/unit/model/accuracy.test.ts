import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadMnistTest, type MnistTest } from '../../../src/datasets/idx.ts';
import { accuracyFloor, modelPath, models } from './files.ts';

const BATCH = 500;

describe.each(models)('%s on the 10,000 committed MNIST test digits', (name) => {
  const floor = accuracyFloor[name];
  let session: ort.InferenceSession;
  let test: MnistTest;

  beforeAll(async () => {
    [session, test] = await Promise.all([
      ort.InferenceSession.create(modelPath(name), { intraOpNumThreads: 1 }),
      loadMnistTest(),
    ]);
  });

  it(`classifies at least ${floor * 100}% correctly (every digit, batches of ${BATCH})`, async () => {
    expect(test.count).toBe(10_000);
    let correct = 0;
    let rowSumError = 0;
    for (let start = 0; start < test.count; start += BATCH) {
      const n = Math.min(BATCH, test.count - start);
      const pixels = new Float32Array(n * 784);
      const bytes = test.images.subarray(start * 784, (start + n) * 784);
      // The models take raw 0..1 pixels: any normalisation is inside the graph.
      for (let k = 0; k < pixels.length; k++) pixels[k] = bytes[k]! / 255;
      const input = new ort.Tensor('float32', pixels, [n, 1, 28, 28]);
      const output = (await session.run({ input })).probabilities!;
      expect(output.dims).toEqual([n, 10]);
      const probabilities = output.data as Float32Array;
      for (let i = 0; i < n; i++) {
        let best = 0;
        let sum = 0;
        for (let c = 0; c < 10; c++) {
          const p = probabilities[i * 10 + c]!;
          sum += p;
          if (p > probabilities[i * 10 + best]!) best = c;
        }
        rowSumError = Math.max(rowSumError, Math.abs(sum - 1));
        if (best === test.labels[start + i]) correct++;
      }
    }
    const accuracy = correct / test.count;
    console.log(`${name} test accuracy: ${(accuracy * 100).toFixed(2)}% (${test.count - correct} errors)`);
    expect(rowSumError).toBeLessThan(1e-4); // softmax is inside the graph
    expect(accuracy).toBeGreaterThanOrEqual(floor);
  }, 60_000);
});
