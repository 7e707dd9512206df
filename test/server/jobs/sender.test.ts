import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { JobFailure } from '../../../src/jobs/errors.ts';
import { loadInput } from '../../../src/jobs/input/load.ts';
import { arrayInput, type LoadedInput } from '../../../src/jobs/input/types.ts';
import { type BatchOutcome, sendBatches } from '../../../src/jobs/sender.ts';
import type { TensorEncoding } from '../../../src/jobs/v2-codec.ts';
import { startTestRuntime } from './helpers.ts';

type Mode = 'ok' | '503' | 'drop' | '400' | 'no-binary';

// A V2 endpoint double whose "prediction" of an image is its first pixel mod 10, so the test can
// check which images were answered; it speaks JSON and the binary tensor extension (answering in
// binary when asked), and fails the requests the test tells it to. `no-binary` answers a binary
// request 400, as a V2 server without the extension does.
function v2Server(misbehave: (request: number) => Mode) {
  let requests = 0;
  const encodings: ('binary' | 'json')[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const headerLength = req.headers['inference-header-content-length'];
      const binary = headerLength !== undefined;
      encodings.push(binary ? 'binary' : 'json');
      const mode = misbehave(++requests);
      if (mode === 'drop') return req.socket.destroy();
      if (mode === '503') return res.writeHead(503).end('{"error":"overloaded"}');
      if (mode === '400' || (mode === 'no-binary' && binary))
        return res.writeHead(400).end('{"error":"bad shape"}');
      const json = JSON.parse(body.subarray(0, binary ? Number(headerLength) : body.length).toString());
      const input = json.inputs[0];
      const n = input.shape[0];
      const first = (i: number): number =>
        binary ? body.readFloatLE(Number(headerLength) + i * 784 * 4) : (input.data as number[])[i * 784]!;
      const data = new Float32Array(n * 10);
      for (let i = 0; i < n; i++) data[i * 10 + (Math.round(first(i) * 255) % 10)] = 1;
      if (json.parameters?.binary_data_output) {
        const head = Buffer.from(
          JSON.stringify({
            model_name: 'm',
            outputs: [
              {
                name: 'probabilities',
                shape: [n, 10],
                datatype: 'FP32',
                parameters: { binary_data_size: data.byteLength },
              },
            ],
          }),
        );
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'inference-header-content-length': head.length,
        });
        return res.end(Buffer.concat([head, Buffer.from(data.buffer)]));
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          model_name: 'm',
          outputs: [{ name: 'probabilities', shape: [n, 10], datatype: 'FP32', data: Array.from(data) }],
        }),
      );
    });
  });
  return {
    server,
    encodings,
    get requests() {
      return requests;
    },
    async url(): Promise<string> {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/models/m/infer`;
    },
  };
}

const policy = { initialDelayMs: 5, maxDelayMs: 20, giveUpAfterMs: 2000, requestTimeoutMs: 2000 };
let server: Server | undefined;
afterEach(() => {
  server?.close();
  server?.closeAllConnections();
});

function images(count: number): LoadedInput {
  const out = new Uint8Array(count * 784);
  for (let i = 0; i < count; i++) out[i * 784] = i % 256;
  return arrayInput(out, count);
}

/** Every image answered exactly once, with the prediction the double gives it. */
function expectAnswered(outcomes: BatchOutcome[], count: number): void {
  const indices = outcomes.map((o) => o.index).sort((a, b) => a - b);
  expect(indices).toEqual(Array.from({ length: indices.length }, (_, i) => i));
  expect(outcomes.reduce((sum, o) => sum + o.count, 0)).toBe(count);
  for (const o of outcomes) {
    for (let j = 0; j < o.count; j++) expect(o.probabilities[j * 10 + (((o.start + j) % 256) % 10)]).toBe(1);
  }
}

describe('sendBatches', () => {
  it('retries 503s and dropped connections, delivering every batch exactly once', async () => {
    const fake = v2Server((n) => (n % 3 === 0 ? '503' : n % 5 === 0 ? 'drop' : 'ok'));
    server = fake.server;
    const endpoint = await fake.url();
    const outcomes: BatchOutcome[] = [];
    let retries = 0;
    await sendBatches(images(1000), 1000, {
      endpoint,
      batchSize: 64,
      concurrency: 3,
      policy,
      onBatch: (outcome) => outcomes.push(outcome),
      onRetry: () => retries++,
    });
    expect(outcomes.map((o) => o.index).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 16 }, (_, i) => i),
    );
    expect(outcomes.reduce((sum, o) => sum + o.count, 0)).toBe(1000);
    expect(retries).toBeGreaterThan(0);
    expect(fake.requests).toBe(16 + retries);
    expect(new Set(fake.encodings)).toEqual(new Set(['binary']));
    expectAnswered(outcomes, 1000);
  });

  it('sends JSON only when told to', async () => {
    const fake = v2Server(() => 'ok');
    server = fake.server;
    const outcomes: BatchOutcome[] = [];
    await sendBatches(images(300), 300, {
      endpoint: await fake.url(),
      batchSize: 64,
      concurrency: 2,
      policy,
      encoding: 'json',
      onBatch: (outcome) => outcomes.push(outcome),
    });
    expect(fake.encodings).toEqual(new Array(5).fill('json'));
    expectAnswered(outcomes, 300);
  });

  it('falls back to JSON for the rest of the job when a server refuses binary but takes JSON', async () => {
    const fake = v2Server((n) => (n === 4 ? '503' : 'no-binary'));
    server = fake.server;
    const outcomes: BatchOutcome[] = [];
    const fallbacks: number[] = [];
    let retries = 0;
    await sendBatches(images(640), 640, {
      endpoint: await fake.url(),
      batchSize: 64,
      concurrency: 1,
      policy,
      onBatch: (outcome) => outcomes.push(outcome),
      onRetry: () => retries++,
      onFallback: ({ index }) => fallbacks.push(index),
    });
    // One binary attempt, refused; then JSON for everything (one 503 retried).
    expect(fake.encodings).toEqual(['binary', ...new Array(11).fill('json')]);
    expect(fallbacks).toEqual([0]);
    expect(retries).toBe(1);
    expectAnswered(outcomes, 640);
  });

  it('fails on a 400 that JSON gets too, after one JSON probe', async () => {
    const fake = v2Server(() => '400');
    server = fake.server;
    let fallbacks = 0;
    const error = await sendBatches(images(10), 10, {
      endpoint: await fake.url(),
      batchSize: 5,
      concurrency: 1,
      policy,
      onBatch: () => {},
      onFallback: () => fallbacks++,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobFailure);
    expect((error as JobFailure).code).toBe('inference_failed');
    expect((error as JobFailure).message).toContain('400');
    expect(fake.encodings).toEqual(['binary', 'json']);
    expect(fallbacks).toBe(0);
  });

  it('fails the job on a 400 to JSON without retrying', async () => {
    const fake = v2Server(() => '400');
    server = fake.server;
    const endpoint = await fake.url();
    const error = await sendBatches(images(10), 10, {
      endpoint,
      batchSize: 5,
      concurrency: 1,
      policy,
      encoding: 'json',
      onBatch: () => {},
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobFailure);
    expect((error as JobFailure).code).toBe('inference_failed');
    expect(fake.requests).toBe(1);
  });

  it('gives up with model_unavailable when the model never comes back', async () => {
    const endpoint = 'http://127.0.0.1:9/v2/models/m/infer';
    const error = await sendBatches(images(10), 10, {
      endpoint,
      batchSize: 10,
      concurrency: 1,
      policy: { ...policy, giveUpAfterMs: 200 },
      onBatch: () => {},
    }).catch((e: unknown) => e);
    expect((error as JobFailure).code).toBe('model_unavailable');
  });
});

describe('sendBatches against the real runtime', () => {
  it('gets the same probabilities as binary tensors and as JSON', async () => {
    const runtime = await startTestRuntime();
    try {
      const input = await loadInput({ dataset: 'mnist-test', limit: 300 });
      const collect = async (encoding: TensorEncoding) => {
        const out = new Float32Array(300 * 10);
        await sendBatches(input, 300, {
          endpoint: runtime.infer,
          batchSize: 64,
          concurrency: 2,
          policy,
          encoding,
          onBatch: ({ start, probabilities }) => out.set(Array.from(probabilities), start * 10),
        });
        return out;
      };
      const binary = await collect('binary');
      const json = await collect('json');
      expect(binary.some((v) => v > 0.5)).toBe(true);
      // The JSON text spells each pixel with 6 decimals; the FP32 values are those same numbers.
      expect(Array.from(binary)).toEqual(Array.from(json));
    } finally {
      await runtime.close();
    }
  });
});
