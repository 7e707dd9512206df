import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMnistTest } from '../../../src/datasets/idx.ts';
import type { RunningRuntime } from '../../../src/runtime/server.ts';
import { argmax, getJson, postJson, startTestRuntime } from './helpers.ts';

// KServe V2 (Open Inference Protocol) conformance against a real server on loopback: every
// endpoint, and every error the protocol defines (400 / 404 / 503, plus 413 for the body limit).

let runtime: RunningRuntime;
let base: string;
const digits = await loadMnistTest();
const image = (i: number) => Array.from(digits.images.subarray(i * 784, (i + 1) * 784), (v) => v / 255);
const inferBody = (
  count: number,
  data: unknown = Array.from({ length: count }, (_, i) => image(i)).flat(),
) => ({
  inputs: [{ name: 'input', shape: [count, 1, 28, 28], datatype: 'FP32', data }],
});

beforeAll(async () => {
  runtime = await startTestRuntime({
    maxBatchSize: 32,
    maxV2Batch: 300,
    queueLimit: 1000,
    bodyLimit: 8 * 1024 * 1024,
  });
  base = runtime.url;
});
afterAll(async () => {
  await runtime?.close();
});

describe('V2 health and metadata', () => {
  it('GET /v2/health/live and /v2/health/ready', async () => {
    expect(await getJson(`${base}/v2/health/live`)).toMatchObject({ status: 200, body: { live: true } });
    expect(await getJson(`${base}/v2/health/ready`)).toMatchObject({ status: 200, body: { ready: true } });
  });

  it('GET /v2 (server metadata)', async () => {
    const { status, body } = await getJson(`${base}/v2`);
    expect(status).toBe(200);
    expect(body).toEqual({ name: 'kinfer', version: expect.any(String), extensions: ['binary_tensor_data'] });
  });

  it('GET /v2/models/{model} and its versioned form (model metadata)', async () => {
    const expected = {
      name: 'mnist-cnn',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 1, 28, 28] }],
      outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 10] }],
    };
    expect(await getJson(`${base}/v2/models/mnist-cnn`)).toMatchObject({ status: 200, body: expected });
    expect(await getJson(`${base}/v2/models/mnist-cnn/versions/1`)).toMatchObject({
      status: 200,
      body: expected,
    });
  });

  it('GET /v2/models/{model}/ready and its versioned form', async () => {
    for (const path of ['/v2/models/mnist-cnn/ready', '/v2/models/mnist-cnn/versions/1/ready']) {
      expect(await getJson(`${base}${path}`)).toMatchObject({
        status: 200,
        body: { name: 'mnist-cnn', ready: true },
      });
    }
  });

  it('404 with {"error"} for an unknown model or version on every model endpoint', async () => {
    for (const path of [
      '/v2/models/resnet',
      '/v2/models/resnet/ready',
      '/v2/models/mnist-cnn/versions/2',
      '/v2/models/mnist-cnn/versions/2/ready',
    ]) {
      const { status, body } = await getJson(`${base}${path}`);
      expect(status, path).toBe(404);
      expect(body.error, path).toMatch(/is not served here/);
    }
    const infer = await postJson(`${base}/v2/models/resnet/infer`, inferBody(1));
    expect(infer.status).toBe(404);
    expect(infer.body).toEqual({ error: 'model "resnet" is not served here' });
    expect((await getJson(`${base}/v2/nothing`)).status).toBe(404);
  });
});

describe('POST /v2/models/{model}/infer', () => {
  it('classifies real digits, echoing the id, with probabilities of shape [N,10]', async () => {
    const n = 20;
    const { status, body } = await postJson(`${base}/v2/models/mnist-cnn/infer`, {
      id: 'req-1',
      ...inferBody(n),
    });
    expect(status).toBe(200);
    expect(body.model_name).toBe('mnist-cnn');
    expect(body.id).toBe('req-1');
    expect(body.outputs).toHaveLength(1);
    const [out] = body.outputs;
    expect(out).toMatchObject({ name: 'probabilities', datatype: 'FP32', shape: [n, 10] });
    expect(out.data).toHaveLength(n * 10);
    let correct = 0;
    for (let i = 0; i < n; i++) {
      const row = out.data.slice(i * 10, (i + 1) * 10);
      expect(row.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 4);
      if (argmax(row) === digits.labels[i]) correct++;
    }
    expect(correct).toBeGreaterThanOrEqual(19);
  });

  it('answers nested data exactly as flat data, and the versioned path the same', async () => {
    const flat = await postJson(`${base}/v2/models/mnist-cnn/infer`, inferBody(3));
    const nested = Array.from({ length: 3 }, (_, i) => [
      Array.from({ length: 28 }, (_, y) => image(i).slice(y * 28, y * 28 + 28)),
    ]);
    const nestedAnswer = await postJson(`${base}/v2/models/mnist-cnn/infer`, inferBody(3, nested));
    const versioned = await postJson(`${base}/v2/models/mnist-cnn/versions/1/infer`, inferBody(3));
    expect(nestedAnswer.body.outputs[0].data).toEqual(flat.body.outputs[0].data);
    expect(versioned.body.outputs[0].data).toEqual(flat.body.outputs[0].data);
  });

  it('accepts a request larger than one batch (split by the batcher) with the same answers', async () => {
    const n = 300; // maxBatchSize is 32: ten batches
    const whole = await postJson(`${base}/v2/models/mnist-cnn/infer`, inferBody(n));
    expect(whole.status).toBe(200);
    expect(whole.body.outputs[0].shape).toEqual([n, 10]);
    const parts = await Promise.all(
      [0, 150].map((start) =>
        postJson(`${base}/v2/models/mnist-cnn/infer`, {
          inputs: [
            {
              name: 'input',
              shape: [150, 1, 28, 28],
              datatype: 'FP32',
              data: Array.from({ length: 150 }, (_, i) => image(start + i)).flat(),
            },
          ],
        }),
      ),
    );
    const joined = [...parts[0]!.body.outputs[0].data, ...parts[1]!.body.outputs[0].data];
    joined.forEach((v: number, i: number) => {
      expect(Math.abs(v - whole.body.outputs[0].data[i])).toBeLessThan(1e-5);
    });
  });

  it('accepts a requested output by its name', async () => {
    const { status } = await postJson(`${base}/v2/models/mnist-cnn/infer`, {
      ...inferBody(1),
      outputs: [{ name: 'probabilities' }],
    });
    expect(status).toBe(200);
  });

  const pixels = () => image(0);
  const bad: [string, unknown, RegExp][] = [
    ['no inputs', { inputs: [] }, /^inputs: /],
    ['inputs not an array', { inputs: 'x' }, /^inputs: /],
    [
      'a missing datatype',
      { inputs: [{ name: 'input', shape: [1, 1, 28, 28], data: pixels() }] },
      /^inputs\[0\]\.datatype: /,
    ],
    [
      'a wrong datatype',
      { inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'INT8', data: pixels() }] },
      /^inputs\[0\]\.datatype: expected FP32, got INT8/,
    ],
    [
      'a wrong input name',
      { inputs: [{ name: 'image', shape: [1, 1, 28, 28], datatype: 'FP32', data: pixels() }] },
      /^inputs\[0\]\.name: the model has no input "image"/,
    ],
    [
      'two inputs',
      {
        inputs: [0, 1].map(() => ({
          name: 'input',
          shape: [1, 1, 28, 28],
          datatype: 'FP32',
          data: pixels(),
        })),
      },
      /^inputs: the model takes exactly one input/,
    ],
    [
      'a wrong shape',
      { inputs: [{ name: 'input', shape: [1, 784], datatype: 'FP32', data: pixels() }] },
      /^inputs\[0\]\.shape: expected \[N,1,28,28\]/,
    ],
    [
      'a wrong image size',
      { inputs: [{ name: 'input', shape: [1, 1, 32, 32], datatype: 'FP32', data: pixels() }] },
      /^inputs\[0\]\.shape: /,
    ],
    [
      'a zero batch',
      { inputs: [{ name: 'input', shape: [0, 1, 28, 28], datatype: 'FP32', data: [] }] },
      /^inputs\[0\]\.shape: .*1 <= N <= 300/,
    ],
    [
      'too many images',
      { inputs: [{ name: 'input', shape: [301, 1, 28, 28], datatype: 'FP32', data: [] }] },
      /^inputs\[0\]\.shape: .*got \[301,1,28,28\]/,
    ],
    [
      'a negative dimension',
      { inputs: [{ name: 'input', shape: [-1, 1, 28, 28], datatype: 'FP32', data: pixels() }] },
      /^inputs\[0\]\.shape\[0\]: /,
    ],
    [
      'data shorter than the shape',
      { inputs: [{ name: 'input', shape: [2, 1, 28, 28], datatype: 'FP32', data: pixels() }] },
      /^inputs\[0\]\.data: expected 1568 values to match the shape, got 784/,
    ],
    [
      'a string in the data',
      {
        inputs: [
          {
            name: 'input',
            shape: [1, 1, 28, 28],
            datatype: 'FP32',
            data: [...pixels().slice(0, 783), 'NaN'],
          },
        ],
      },
      /^inputs\[0\]\.data\[783\]: /,
    ],
    [
      'a null in the data',
      {
        inputs: [
          { name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', data: [null, ...pixels().slice(1)] },
        ],
      },
      /^inputs\[0\]\.data\[0\]: /,
    ],
    [
      'an unknown output',
      {
        ...{ inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', data: pixels() }] },
        outputs: [{ name: 'logits' }],
      },
      /^outputs\[0\]\.name: the model has no output "logits"/,
    ],
    ['a body that is not an object', [1, 2, 3], /^body: /],
  ];
  it.each(bad)('400 naming the field for %s', async (_name, body, message) => {
    const response = await postJson(`${base}/v2/models/mnist-cnn/infer`, body);
    expect(response.status).toBe(400);
    expect(Object.keys(response.body)).toEqual(['error']);
    expect(response.body.error).toMatch(message);
  });

  it('400 for JSON that does not parse, and an overflowing number', async () => {
    const broken = await postJson(`${base}/v2/models/mnist-cnn/infer`, '{"inputs": [');
    expect(broken.status).toBe(400);
    expect(broken.body.error).toEqual(expect.any(String));
    const huge = `{"inputs":[{"name":"input","shape":[1,1,28,28],"datatype":"FP32","data":[1e999${',0'.repeat(783)}]}]}`;
    const overflow = await postJson(`${base}/v2/models/mnist-cnn/infer`, huge);
    expect(overflow.status).toBe(400);
    expect(overflow.body.error).toMatch(/^inputs\[0\]\.data\[0\]: expected a finite FP32 number/);
  });

  it('413 with {"error"} for a body over the limit', async () => {
    const big = `{"id":"${'x'.repeat(9 * 1024 * 1024)}"}`; // the limit here is 8 MiB
    const response = await postJson(`${base}/v2/models/mnist-cnn/infer`, big);
    expect(response.status).toBe(413);
    expect(response.body.error).toMatch(/too large/i);
  });
});

describe('binary tensor data extension (what Triton clients send by default)', () => {
  const url = () => `${base}/v2/models/mnist-cnn/infer`;
  /** A body of JSON header + raw FP32 bytes, sent as Triton's client does. */
  const binaryPost = async (header: unknown, tensor: Float32Array | Buffer, headerLength?: number) => {
    const json = Buffer.from(JSON.stringify(header));
    const bytes = Buffer.isBuffer(tensor)
      ? tensor
      : Buffer.from(tensor.buffer, tensor.byteOffset, tensor.byteLength);
    const response = await fetch(url(), {
      method: 'POST',
      headers: {
        'content-type': 'application/octet-stream',
        'inference-header-content-length': String(headerLength ?? json.length),
      },
      body: Buffer.concat([json, bytes]),
    });
    return response;
  };
  const tensorOf = (n: number) => Float32Array.from(Array.from({ length: n }, (_, i) => image(i)).flat());
  const header = (n: number, extra: Record<string, unknown> = {}) => ({
    inputs: [
      {
        name: 'input',
        shape: [n, 1, 28, 28],
        datatype: 'FP32',
        parameters: { binary_data_size: n * 784 * 4 },
      },
    ],
    ...extra,
  });

  it('reads binary input and answers JSON like the same request in JSON', async () => {
    const json = await postJson(url(), inferBody(4));
    const response = await binaryPost(header(4), tensorOf(4));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { outputs: { data: number[] }[] };
    body.outputs[0]!.data.forEach((v, i) => {
      expect(Math.abs(v - json.body.outputs[0].data[i])).toBeLessThan(1e-6);
    });
  });

  it('reads the tensor wherever the JSON header ends (aligned or not), small bodies and large', async () => {
    for (const n of [1, 5]) {
      const json = await postJson(url(), inferBody(n));
      for (const pad of [0, 1, 2, 3]) {
        const response = await binaryPost(header(n, { id: 'x'.repeat(pad) }), tensorOf(n));
        expect(response.status).toBe(200);
        const body = (await response.json()) as { outputs: { data: number[] }[] };
        body.outputs[0]!.data.forEach((v, i) => {
          expect(Math.abs(v - json.body.outputs[0].data[i])).toBeLessThan(1e-6);
        });
      }
    }
  });

  it('answers binary output when asked, with Inference-Header-Content-Length', async () => {
    const json = await postJson(url(), inferBody(4));
    for (const extra of [
      { parameters: { binary_data_output: true } },
      { outputs: [{ name: 'probabilities', parameters: { binary_data: true } }] },
    ]) {
      const response = await binaryPost(header(4, extra), tensorOf(4));
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/octet-stream');
      const length = Number(response.headers.get('inference-header-content-length'));
      const raw = Buffer.from(await response.arrayBuffer());
      const head = JSON.parse(raw.subarray(0, length).toString());
      expect(head.outputs[0]).toEqual({
        name: 'probabilities',
        datatype: 'FP32',
        shape: [4, 10],
        parameters: { binary_data_size: 160 },
      });
      const values = new Float32Array(raw.buffer.slice(raw.byteOffset + length, raw.byteOffset + raw.length));
      expect(values).toHaveLength(40);
      values.forEach((v, i) => {
        expect(Math.abs(v - json.body.outputs[0].data[i])).toBeLessThan(1e-6);
      });
    }
  });

  it('400 naming what is wrong with a binary request', async () => {
    const nan = tensorOf(1);
    nan[100] = Number.NaN;
    const cases: [Response, RegExp][] = [
      [
        await binaryPost(
          {
            inputs: [
              {
                name: 'input',
                shape: [1, 1, 28, 28],
                datatype: 'FP32',
                parameters: { binary_data_size: 100 },
              },
            ],
          },
          tensorOf(1),
        ),
        /^inputs\[0\]\.parameters\.binary_data_size: expected 3136 bytes/,
      ],
      [
        await binaryPost(header(2), tensorOf(1)),
        /^body: expected 6272 bytes of tensor data after the JSON header, got 3136/,
      ],
      [
        await binaryPost(header(1), nan),
        /^inputs\[0\] binary data\[100\]: expected a finite FP32 number, got NaN/,
      ],
      [await binaryPost(header(1), tensorOf(1), 5), /^body: the JSON header does not parse/],
      [
        await binaryPost(inferBody(1), tensorOf(1)),
        /^body: bytes after the JSON header, but no input has parameters.binary_data_size/,
      ],
      [
        await binaryPost({ inputs: [{ ...header(1).inputs[0], data: [1] }] }, tensorOf(1)),
        /^inputs\[0\]\.data: not allowed together with binary_data_size/,
      ],
    ];
    for (const [response, message] of cases) {
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toMatch(message);
    }
    const badHeader = await fetch(url(), {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': 'ten' },
      body: 'x',
    });
    expect(badHeader.status).toBe(400);
    expect(((await badHeader.json()) as { error: string }).error).toMatch(
      /^Inference-Header-Content-Length: expected an integer/,
    );
  });
});

describe('V2 when the model is not ready or the queue is full', () => {
  it('503 on readiness and inference while the model cannot be served, 200 on liveness', async () => {
    const broken = await startTestRuntime({ sha256: '0'.repeat(64) }, false);
    try {
      await expect(broken.ready).rejects.toThrow(/sha256/);
      const base = broken.url;
      expect((await getJson(`${base}/v2/health/live`)).status).toBe(200);
      expect((await getJson(`${base}/healthz`)).status).toBe(200);
      for (const path of [
        '/v2/health/ready',
        '/v2/models/mnist-cnn',
        '/v2/models/mnist-cnn/ready',
        '/readyz',
      ]) {
        const { status, body } = await getJson(`${base}${path}`);
        expect(status, path).toBe(503);
        expect(body.error, path).toMatch(/sha256/);
      }
      const infer = await postJson(`${base}/v2/models/mnist-cnn/infer`, inferBody(1));
      expect(infer.status).toBe(503);
    } finally {
      await broken.close();
    }
  });

  it('503 with Retry-After when the queue is full, and every accepted request answered', async () => {
    const small = await startTestRuntime({ maxBatchSize: 1, maxDelayMs: 0, queueLimit: 16, maxV2Batch: 16 });
    try {
      const responses = await Promise.all(
        Array.from({ length: 60 }, () => postJson(`${small.url}/v2/models/mnist-cnn/infer`, inferBody(16))),
      );
      const overloaded = responses.filter((r) => r.status === 503);
      const ok = responses.filter((r) => r.status === 200);
      expect(overloaded.length).toBeGreaterThan(0);
      expect(ok.length).toBeGreaterThan(0);
      expect(ok.length + overloaded.length).toBe(60);
      for (const r of overloaded) {
        expect(r.headers.get('retry-after')).toBe('1');
        expect(r.body).toEqual({ error: 'the inference queue is full, retry later' });
      }
      for (const r of ok) expect(r.body.outputs[0].data).toHaveLength(160);
    } finally {
      await small.close();
    }
  });
});
