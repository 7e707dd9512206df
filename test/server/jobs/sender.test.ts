import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { JobFailure } from '../../../src/jobs/errors.ts';
import { arrayInput, type LoadedInput } from '../../../src/jobs/input/types.ts';
import { type BatchOutcome, sendBatches } from '../../../src/jobs/sender.ts';

// A V2 endpoint double whose "prediction" of an image is its first pixel mod 10, so the test can
// check which images were answered; it fails the requests the test tells it to.
function v2Server(misbehave: (request: number) => 'ok' | '503' | 'drop' | '400') {
  let requests = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const mode = misbehave(++requests);
      if (mode === 'drop') return req.socket.destroy();
      if (mode === '503') return res.writeHead(503).end('{"error":"overloaded"}');
      if (mode === '400') return res.writeHead(400).end('{"error":"bad shape"}');
      const input = JSON.parse(body).inputs[0];
      const n = input.shape[0];
      const data = new Array(n * 10).fill(0);
      for (let i = 0; i < n; i++) data[i * 10 + (Math.round(input.data[i * 784] * 255) % 10)] = 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          model_name: 'm',
          outputs: [{ name: 'probabilities', shape: [n, 10], datatype: 'FP32', data }],
        }),
      );
    });
  });
  return {
    server,
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
    for (const o of outcomes) {
      for (let j = 0; j < o.count; j++)
        expect(o.probabilities[j * 10 + (((o.start + j) % 256) % 10)]).toBe(1);
    }
  });

  it('fails the job on a 400 without retrying', async () => {
    const fake = v2Server(() => '400');
    server = fake.server;
    const endpoint = await fake.url();
    const error = await sendBatches(images(10), 10, {
      endpoint,
      batchSize: 5,
      concurrency: 1,
      policy,
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
