import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadMnistTest, MNIST_TEST_FILES } from '../../../src/datasets/idx.ts';
import { committedModelDirs, datasetDir, modelDir, modelPath, models } from './files.ts';

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('models/', () => {
  it('holds exactly the builtin models the API accepts (spec.model.source.builtin)', () => {
    expect(committedModelDirs()).toEqual([...models].sort());
  });
});

describe.each(models)('%s model file', (name) => {
  const digest = sha256(modelPath(name));

  it('matches model.onnx.sha256 (sha256sum format)', () => {
    expect(readFileSync(`${modelDir(name)}model.onnx.sha256`, 'utf8')).toBe(`${digest}  model.onnx\n`);
  });

  it('matches the sha256 stated in the model card, and the card states no other', () => {
    const card = readFileSync(`${modelDir(name)}MODEL_CARD.md`, 'utf8');
    const stated = new Set(card.match(/\b[0-9a-f]{64}\b/g) ?? []);
    expect([...stated]).toEqual([digest]);
    expect(card).toMatch(new RegExp(`\\*\\*sha256\\*\\*: \`${digest}\``));
    expect(card.startsWith(`# ${name}\n`)).toBe(true);
  });
});

describe('mnist-test dataset', () => {
  it('matches SHA256SUMS for both files', () => {
    const lines = readFileSync(`${datasetDir}SHA256SUMS`, 'utf8').trim().split('\n');
    const sums = new Map(lines.map((line) => [line.slice(66), line.slice(0, 64)]));
    expect([...sums.keys()].sort()).toEqual([MNIST_TEST_FILES.images, MNIST_TEST_FILES.labels].sort());
    for (const [file, expected] of sums) expect(sha256(`${datasetDir}${file}`), file).toBe(expected);
  });

  it('has the published MNIST test label counts and first labels', async () => {
    const test = await loadMnistTest();
    expect(test.count).toBe(10_000);
    expect(test.images.length).toBe(10_000 * 784);
    const counts = new Array<number>(10).fill(0);
    for (const label of test.labels) counts[label]!++;
    expect(counts).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    expect(Array.from(test.labels.subarray(0, 10))).toEqual([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
  });
});
