import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { BuiltinModel } from '../../../src/api/modeldeployment.ts';
import { fromStrokes } from '../../../src/runtime/preprocess/index.ts';
import { canvasDigits, jitter, type Stroke } from './canvas-digits.ts';
import { modelPath, models } from './files.ts';

// The models judged together with the runtime's stroke preprocessing: digits drawn on the demo
// page's 280x280 canvas must come out right, not only scanned MNIST digits.

async function classify(
  name: BuiltinModel,
  drawings: Stroke[][],
): Promise<{ prediction: number; confidence: number }[]> {
  const session = await ort.InferenceSession.create(modelPath(name), { intraOpNumThreads: 1 });
  const pixels = new Float32Array(drawings.length * 784);
  drawings.forEach((strokes, i) => {
    pixels.set(fromStrokes(strokes, 280, 280), i * 784);
  });
  const input = new ort.Tensor('float32', pixels, [drawings.length, 1, 28, 28]);
  const probabilities = (await session.run({ input })).probabilities!.data as Float32Array;
  await session.release();
  return drawings.map((_, i) => {
    const row = probabilities.subarray(i * 10, i * 10 + 10);
    const prediction = row.indexOf(Math.max(...row));
    return { prediction, confidence: row[prediction]! };
  });
}

/** 500 variants: 50 seeds of each plainly drawn digit, rotated, slanted, shifted, resized, shaky. */
const variants: Stroke[][] = [];
const variantLabels: number[] = [];
for (let seed = 1; seed <= 50; seed++) {
  for (const [digit, strokes] of canvasDigits.entries()) {
    variants.push(jitter(strokes, seed * 10 + digit));
    variantLabels.push(digit);
  }
}

/** The variants a model gets wrong, as "label->prediction", computed once per model. */
const wrongVariants = new Map<BuiltinModel, Promise<string[]>>();
function wrongOf(name: BuiltinModel): Promise<string[]> {
  if (!wrongVariants.has(name)) {
    wrongVariants.set(
      name,
      classify(name, variants).then((results) =>
        results.flatMap((r, i) =>
          r.prediction === variantLabels[i] ? [] : [`${variantLabels[i]}->${r.prediction}`],
        ),
      ),
    );
  }
  return wrongVariants.get(name)!;
}

describe.each(models)('%s on digits drawn on a 280x280 canvas (runtime preprocessing)', (name) => {
  it('recognises each plainly drawn digit 0-9 with confidence', async () => {
    const results = await classify(name, canvasDigits);
    expect(results.map((r) => r.prediction)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const r of results) expect(r.confidence).toBeGreaterThan(0.8);
  });

  it('recognises at least 95% of 500 rotated, slanted, shifted, resized and shaky variants', async () => {
    const wrong = await wrongOf(name);
    console.log(
      `${name} canvas variants: ${variants.length - wrong.length}/${variants.length} right; wrong: ${wrong.join(' ')}`,
    );
    expect(wrong.length / variants.length).toBeLessThanOrEqual(0.05);
  });
});

describe('mnist-small against mnist-cnn on the drawn variants', () => {
  it('gets no more of the 500 wrong than mnist-cnn', async () => {
    const [small, cnn] = await Promise.all([wrongOf('mnist-small'), wrongOf('mnist-cnn')]);
    expect(small.length).toBeLessThanOrEqual(cnn.length);
  });
});
