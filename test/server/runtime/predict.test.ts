import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMnistTest } from '../../../src/datasets/idx.ts';
import type { RunningRuntime } from '../../../src/runtime/server.ts';
import { pngOf, postJson, startTestRuntime } from './helpers.ts';

const digits = await loadMnistTest();
const raw = (i: number) => Array.from(digits.images.subarray(i * 784, (i + 1) * 784));
let runtime: RunningRuntime;
let url: string;

beforeAll(async () => {
  runtime = await startTestRuntime({ maxV2Batch: 64, queueLimit: 1024 });
  url = `${runtime.url}/v1/predict`;
});
afterAll(async () => {
  await runtime?.close();
});

describe('POST /v1/predict', () => {
  it('answers pixels with prediction, confidence, probabilities, model and latency', async () => {
    const { status, body } = await postJson(url, { pixels: raw(0) });
    expect(status).toBe(200);
    expect(body).toEqual({
      prediction: expect.any(Number),
      confidence: expect.any(Number),
      probabilities: expect.any(Array),
      model: { name: 'mnist-cnn', sha256: runtime.predictor.model.sha256 },
      latencyMs: expect.any(Number),
    });
    expect(body.probabilities).toHaveLength(10);
    expect(body.confidence).toBe(Math.max(...body.probabilities));
    expect(body.probabilities[body.prediction]).toBe(body.confidence);
    expect(body.model.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('gives the same answer for pixels (0..255 and 0..1), a PNG, a dark-on-light PNG and a data URL', async () => {
    const answers = await Promise.all([
      postJson(url, { pixels: raw(3) }),
      postJson(url, { pixels: raw(3).map((v) => v / 255) }),
      postJson(url, { image: pngOf(raw(3)).toString('base64') }),
      postJson(url, { image: pngOf(raw(3), true).toString('base64') }),
      postJson(url, { image: `data:image/png;base64,${pngOf(raw(3)).toString('base64')}` }),
    ]);
    for (const a of answers) expect(a.status).toBe(200);
    const first = answers[0]!.body.probabilities as number[];
    for (const a of answers) {
      (a.body.probabilities as number[]).forEach((p, k) => {
        expect(Math.abs(p - first[k]!)).toBeLessThan(1e-3);
      });
    }
  });

  it('classifies strokes from a canvas', async () => {
    const one = {
      strokes: [
        [
          { x: 140, y: 30 },
          { x: 138, y: 250 },
        ],
      ],
      width: 280,
      height: 280,
    };
    const { status, body } = await postJson(url, one);
    expect(status).toBe(200);
    expect(body.probabilities).toHaveLength(10);
  });

  it('answers instances in order, mixing kinds', async () => {
    const instances = [{ pixels: raw(0) }, { image: pngOf(raw(1)).toString('base64') }, { pixels: raw(2) }];
    const { status, body } = await postJson(url, { instances });
    expect(status).toBe(200);
    expect(body.predictions).toHaveLength(3);
    expect(body.model.name).toBe('mnist-cnn');
    const singles = await Promise.all(instances.map((instance) => postJson(url, instance)));
    body.predictions.forEach((p: { prediction: number }, i: number) => {
      expect(p.prediction).toBe(singles[i]!.body.prediction);
    });
  });

  const bad: [string, unknown, RegExp][] = [
    ['an empty body', {}, /^body: exactly one of pixels, image or strokes is required/],
    [
      'two kinds at once',
      { pixels: raw(0), image: 'aGVsbG8=' },
      /exactly one of pixels, image or strokes is required \(got pixels, image\)/,
    ],
    ['too few pixels', { pixels: [1, 2, 3] }, /^pixels: /],
    ['a pixel out of range', { pixels: [...raw(0).slice(0, 783), 256] }, /^pixels\[783\]: /],
    ['strokes without a canvas size', { strokes: [[{ x: 1, y: 1 }]] }, /^width: required with strokes/],
    ['a point without y', { strokes: [[{ x: 1 }]], width: 10, height: 10 }, /^strokes\[0\]\[0\]\.y: /],
    ['an image that is not base64', { image: '###' }, /^image: not base64/],
    [
      'an image that is not a PNG',
      { image: Buffer.from('GIF89a....').toString('base64') },
      /^image: not a PNG/,
    ],
    [
      'a bad instance',
      { instances: [{ pixels: raw(0) }, { image: 'aGVsbG8gd29ybGQsIG5vdCBhIHBuZw==' }] },
      /^instances\[1\]\.image: not a PNG/,
    ],
    [
      'a malformed instance',
      { instances: [{ pixels: raw(0) }, { pixels: 'x' }] },
      /^instances\[1\]\.pixels: /,
    ],
    ['no instances', { instances: [] }, /^instances: /],
    [
      'too many instances',
      { instances: Array.from({ length: 65 }, () => ({ pixels: raw(0) })) },
      /^instances: Too big/,
    ],
  ];
  it.each(bad)('400 naming the field for %s', async (_name, body, message) => {
    const response = await postJson(url, body);
    expect(response.status).toBe(400);
    expect(response.body.error).toMatch(message);
  });
});
