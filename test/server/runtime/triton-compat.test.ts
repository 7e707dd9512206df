import { deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOOP_INFLATE_BYTES } from '../../../src/runtime/http/content-encoding.ts';
import type { RunningRuntime } from '../../../src/runtime/server.ts';
import { getJson, startTestRuntime } from './helpers.ts';

// What third-party V2 clients send beyond the core protocol: tritonclient's compressed request
// bodies (request_compression_algorithm gzip/deflate) and Triton's model configuration extension.

let runtime: RunningRuntime;
let base: string;
const bodyLimit = 8 * 1024 * 1024;
const pixels = Array.from({ length: 784 }, (_, i) => ((i * 7919) % 255) / 255);
const request = { inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', data: pixels }] };

beforeAll(async () => {
  runtime = await startTestRuntime({ bodyLimit, maxBatchSize: 16, maxDelayMs: 3 });
  base = runtime.url;
});
afterAll(async () => {
  await runtime?.close();
});

const post = (body: Buffer, headers: Record<string, string>) =>
  fetch(`${base}/v2/models/mnist-cnn/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: new Uint8Array(body),
  });

describe('compressed request bodies', () => {
  /** The answers to `plain` gzipped and deflated are those to `plain` itself. */
  const expectSameAnswers = async (plain: Buffer) => {
    const expected = await (await post(plain, {})).json();
    for (const [encoding, body] of [
      ['gzip', gzipSync(plain)],
      ['deflate', deflateSync(plain)],
    ] as const) {
      const response = await post(body, { 'content-encoding': encoding });
      expect(response.status, encoding).toBe(200);
      expect(await response.json()).toEqual(expected);
    }
  };

  it('answers gzip and deflate bodies exactly as the plain one', async () => {
    await expectSameAnswers(Buffer.from(JSON.stringify(request)));
  });

  it('answers a body inflating past what the event loop inflates (inflated off it) as the plain one', async () => {
    const many = Array.from({ length: 64 }, () => pixels).flat();
    const plain = Buffer.from(
      JSON.stringify({ inputs: [{ name: 'input', shape: [64, 1, 28, 28], datatype: 'FP32', data: many }] }),
    );
    expect(plain.length).toBeGreaterThan(LOOP_INFLATE_BYTES);
    await expectSameAnswers(plain);
  });

  it('reads a gzipped binary body (the header length counts decompressed bytes)', async () => {
    const header = Buffer.from(
      JSON.stringify({
        inputs: [
          { name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', parameters: { binary_data_size: 3136 } },
        ],
      }),
    );
    const tensor = Buffer.from(Float32Array.from(pixels).buffer);
    const response = await post(gzipSync(Buffer.concat([header, tensor])), {
      'content-type': 'application/octet-stream',
      'content-encoding': 'gzip',
      'inference-header-content-length': String(header.length),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { outputs: { data: number[] }[] }).outputs[0]!.data).toHaveLength(10);
  });

  it('413 naming bodyLimit for a compression bomb, read no further than the limit', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024)); // 64 MiB of zeros in ~64 KB
    const before = process.memoryUsage().rss;
    const response = await post(bomb, { 'content-encoding': 'gzip' });
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({
      error: expect.stringMatching(/too large, over 8388608 bytes \(bodyLimit/),
    });
    // The server runs in this process: it never held anything near the decompressed size.
    expect(process.memoryUsage().rss - before).toBeLessThan(128 * 1024 * 1024);
  });

  it('400 for a body that is not what its encoding says, 415 for an unknown encoding', async () => {
    const bad = await post(Buffer.from('{"not":"gzip"}'), { 'content-encoding': 'gzip' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: expect.stringMatching(/^body: not valid gzip data/) });
    const brotli = await post(Buffer.from('{}'), { 'content-encoding': 'br' });
    expect(brotli.status).toBe(415);
    expect(await brotli.json()).toEqual({
      error: expect.stringMatching(/^content-encoding: "br" is not supported/),
    });
  });
});

describe('GET /v2/models/{model}/config', () => {
  it("serves Triton's model configuration, versioned too", async () => {
    const expected = {
      name: 'mnist-cnn',
      platform: 'onnxruntime_onnx',
      backend: 'onnxruntime',
      max_batch_size: 1024,
      input: [{ name: 'input', data_type: 'TYPE_FP32', format: 'FORMAT_NONE', dims: [1, 28, 28] }],
      output: [{ name: 'probabilities', data_type: 'TYPE_FP32', dims: [10] }],
      dynamic_batching: { preferred_batch_size: [16], max_queue_delay_microseconds: 3000 },
      version_policy: { latest: { num_versions: 1 } },
    };
    expect(await getJson(`${base}/v2/models/mnist-cnn/config`)).toMatchObject({
      status: 200,
      body: expected,
    });
    expect(await getJson(`${base}/v2/models/mnist-cnn/versions/1/config`)).toMatchObject({
      status: 200,
      body: expected,
    });
    expect((await getJson(`${base}/v2/models/resnet/config`)).status).toBe(404);
    expect((await getJson(`${base}/v2/models/mnist-cnn/versions/2/config`)).status).toBe(404);
  });
});
