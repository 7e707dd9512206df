import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelPath, models } from './files.ts';

describe.each(models)('%s ONNX interface', (name) => {
  let session: ort.InferenceSession;
  beforeAll(async () => {
    session = await ort.InferenceSession.create(modelPath(name), { intraOpNumThreads: 1 });
  });

  it('has one float32 input "input" [N,1,28,28] with a dynamic batch axis', () => {
    expect(session.inputNames).toEqual(['input']);
    const [input] = session.inputMetadata;
    expect(input).toMatchObject({ name: 'input', isTensor: true, type: 'float32' });
    if (!input?.isTensor) throw new Error('input is not a tensor');
    const shape = input.shape;
    expect(shape.slice(1)).toEqual([1, 28, 28]);
    expect(typeof shape[0]).toBe('string');
  });

  it('has one float32 output "probabilities" [N,10]', () => {
    expect(session.outputNames).toEqual(['probabilities']);
    const [output] = session.outputMetadata;
    expect(output).toMatchObject({ name: 'probabilities', isTensor: true, type: 'float32' });
    if (!output?.isTensor) throw new Error('output is not a tensor');
    const shape = output.shape;
    expect(shape.slice(1)).toEqual([10]);
    expect(typeof shape[0]).toBe('string');
  });

  it.each([1, 3, 64])('runs a batch of %i and answers rows of 10 probabilities summing to 1', async (n) => {
    const pixels = new Float32Array(n * 784);
    for (let k = 0; k < pixels.length; k++) pixels[k] = ((k * 7919) % 256) / 255;
    const output = (await session.run({ input: new ort.Tensor('float32', pixels, [n, 1, 28, 28]) }))
      .probabilities!;
    expect(output.dims).toEqual([n, 10]);
    const data = output.data as Float32Array;
    for (let i = 0; i < n; i++) {
      const row = data.subarray(i * 10, i * 10 + 10);
      expect(row.every((p) => p >= 0 && p <= 1)).toBe(true);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    }
  });

  it('rejects an input of the wrong shape', async () => {
    const wrong = new ort.Tensor('float32', new Float32Array(784), [1, 784]);
    await expect(session.run({ input: wrong })).rejects.toThrow();
  });
});
