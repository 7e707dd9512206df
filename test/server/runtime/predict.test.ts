import { PNG } from 'pngjs';
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

  it('decodes a large PNG off the event loop to the same answer, and names a corrupt one', async () => {
    const scale = 36; // 1008x1008: decoded on a worker thread
    const big = new PNG({ width: 28 * scale, height: 28 * scale });
    const digit = raw(7);
    for (let y = 0; y < 28 * scale; y++) {
      for (let x = 0; x < 28 * scale; x++) {
        const v = 255 - digit[Math.floor(y / scale) * 28 + Math.floor(x / scale)]!; // dark on light
        big.data.set([v, v, v, 255], (y * 28 * scale + x) * 4);
      }
    }
    const png = PNG.sync.write(big);
    const [large, small] = await Promise.all([
      postJson(url, { image: png.toString('base64') }),
      postJson(url, { pixels: raw(7) }),
    ]);
    expect(large.status).toBe(200);
    expect(large.body.prediction).toBe(small.body.prediction);
    expect(large.body.prediction).toBe(digits.labels[7]);

    const corrupt = Buffer.from(png);
    corrupt.fill(0x55, 60, 200);
    const response = await postJson(url, {
      instances: [{ pixels: raw(0) }, { image: corrupt.toString('base64') }],
    });
    expect(response.status).toBe(400);
    expect(response.body.error).toMatch(/^instances\[1\]\.image: cannot decode PNG/);
  });

  it('classifies digits drawn as strokes on a 280x280 canvas', async () => {
    const arc = (cx: number, cy: number, rx: number, ry: number, from: number, to: number) =>
      Array.from({ length: 21 }, (_, i) => {
        const a = from + ((to - from) * i) / 20;
        return { x: cx + rx * Math.sin(a), y: cy - ry * Math.cos(a) };
      });
    const drawings: [number, { x: number; y: number }[][]][] = [
      [0, [arc(140, 140, 60, 95, 0, 2 * Math.PI)]],
      [
        1,
        [
          [
            { x: 150, y: 40 },
            { x: 140, y: 240 },
          ],
        ],
      ],
      [
        2,
        [
          arc(140, 100, 60, 50, -Math.PI / 2, Math.PI / 2),
          [
            { x: 200, y: 100 },
            { x: 80, y: 240 },
            { x: 210, y: 240 },
          ],
        ],
      ],
      [3, [arc(140, 95, 55, 50, -Math.PI / 2, Math.PI), arc(140, 195, 60, 50, 0, Math.PI + Math.PI / 2)]],
      [
        4,
        [
          [
            { x: 160, y: 40 },
            { x: 70, y: 170 },
            { x: 210, y: 170 },
          ],
          [
            { x: 170, y: 90 },
            { x: 170, y: 250 },
          ],
        ],
      ],
      [
        7,
        [
          [
            { x: 70, y: 50 },
            { x: 210, y: 50 },
            { x: 120, y: 240 },
          ],
        ],
      ],
    ];
    const { status, body } = await postJson(url, {
      instances: drawings.map(([, strokes]) => ({ strokes, width: 280, height: 280 })),
    });
    expect(status).toBe(200);
    expect(body.predictions.map((p: { prediction: number }) => p.prediction)).toEqual(
      drawings.map(([digit]) => digit),
    );
    // An empty canvas still gets an answer, marked blank; a digit is never marked.
    const empty = await postJson(url, { strokes: [], width: 280, height: 280 });
    expect(empty.status).toBe(200);
    expect(empty.body.blank).toBe(true);
    for (const p of body.predictions) expect(p).not.toHaveProperty('blank');
    // A small digit in a corner of the canvas is the same digit.
    const small = await postJson(url, {
      strokes: [
        [
          { x: 10, y: 10 },
          { x: 40, y: 10 },
          { x: 22, y: 52 },
        ],
      ],
      width: 280,
      height: 280,
    });
    expect(small.body.prediction).toBe(7);
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
