import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromStrokes } from '../../../src/runtime/preprocess/index.ts';
import { canvasDigits, jitter, type Stroke } from './canvas-digits.ts';
import { modelPath } from './files.ts';

// The model judged together with the runtime's stroke preprocessing: digits drawn on the demo
// page's 280x280 canvas must come out right, not only scanned MNIST digits.
describe('mnist-cnn on digits drawn on a 280x280 canvas (runtime preprocessing)', () => {
  let session: ort.InferenceSession;
  beforeAll(async () => {
    session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1 });
  });

  async function classify(drawings: Stroke[][]): Promise<{ prediction: number; confidence: number }[]> {
    const pixels = new Float32Array(drawings.length * 784);
    drawings.forEach((strokes, i) => {
      pixels.set(fromStrokes(strokes, 280, 280), i * 784);
    });
    const input = new ort.Tensor('float32', pixels, [drawings.length, 1, 28, 28]);
    const probabilities = (await session.run({ input })).probabilities!.data as Float32Array;
    return drawings.map((_, i) => {
      const row = probabilities.subarray(i * 10, i * 10 + 10);
      const prediction = row.indexOf(Math.max(...row));
      return { prediction, confidence: row[prediction]! };
    });
  }

  it('recognises each plainly drawn digit 0-9 with confidence', async () => {
    const results = await classify(canvasDigits);
    expect(results.map((r) => r.prediction)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const r of results) expect(r.confidence).toBeGreaterThan(0.8);
  });

  it('recognises at least 95% of 500 rotated, slanted, shifted, resized and shaky variants', async () => {
    const drawings: Stroke[][] = [];
    const labels: number[] = [];
    for (let seed = 1; seed <= 50; seed++) {
      for (const [digit, strokes] of canvasDigits.entries()) {
        drawings.push(jitter(strokes, seed * 10 + digit));
        labels.push(digit);
      }
    }
    const results = await classify(drawings);
    const wrong = results.flatMap((r, i) =>
      r.prediction === labels[i] ? [] : [`${labels[i]}->${r.prediction}`],
    );
    console.log(
      `canvas variants: ${results.length - wrong.length}/${results.length} right; wrong: ${wrong.join(' ')}`,
    );
    expect(wrong.length / results.length).toBeLessThanOrEqual(0.05);
  });
});
