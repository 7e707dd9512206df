import { expect, it } from 'vitest';
import { asJson, table } from '../../../src/cli/commands/predict.ts';

const result = {
  model: { name: 'mnist-cnn', sha256: 'ab12' },
  latencyMs: 3.25,
  predictions: [
    { prediction: 7, confidence: 0.9987, probabilities: Array(10).fill(0.1) },
    { prediction: 1, confidence: 0.5, probabilities: Array(10).fill(0.1) },
  ],
};

it('prints one aligned row per file, then the model', () => {
  expect(table(['a.png', 'longer-name.png'], result)).toBe(
    [
      'FILE             DIGIT  CONFIDENCE',
      'a.png            7           99.9%',
      'longer-name.png  1           50.0%',
      'model mnist-cnn sha256 ab12 (3.3 ms)',
      '',
    ].join('\n'),
  );
});

it('puts the file name into each JSON prediction', () => {
  expect(asJson(['a.png', 'b.png'], result).predictions.map((p) => [p.file, p.prediction])).toEqual([
    ['a.png', 7],
    ['b.png', 1],
  ]);
});
