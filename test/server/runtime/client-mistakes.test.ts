import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningRuntime } from '../../../src/runtime/server.ts';
import { openSocket, postJson, rawRequest, startTestRuntime } from './helpers.ts';

// Every client mistake is a 4xx in the {"error"} shape naming what was wrong, including the
// errors fastify and Node raise before a route runs; never a 500, never a 200 with nulls.

let runtime: RunningRuntime;
let base: string;

beforeAll(async () => {
  runtime = await startTestRuntime();
  base = runtime.url;
});
afterAll(async () => {
  await runtime?.close();
});

const infer = (data: unknown) => ({
  inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', data }],
});
const inferUrl = () => `${base}/v2/models/mnist-cnn/infer`;

describe('V2 data', () => {
  const nested = (levels: number) =>
    `{"inputs":[{"name":"input","shape":[1,1,28,28],"datatype":"FP32","data":${'['.repeat(levels)}0${']'.repeat(levels)}}]}`;

  it('400, not 500, for data nested 10,000 deep, refused before it is parsed', async () => {
    const response = await postJson(inferUrl(), nested(10_000));
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('inputs[0].data: JSON nested deeper than 64 levels (maxJsonDepth)');
  });

  it('400 for a binary-extension body whose JSON header nests 10,000 deep, refused before it is parsed', async () => {
    const header = Buffer.from(nested(10_000));
    const response = await fetch(inferUrl(), {
      method: 'POST',
      headers: {
        'content-type': 'application/octet-stream',
        'inference-header-content-length': String(header.length),
      },
      body: Buffer.concat([header, Buffer.alloc(784 * 4)]),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: 'inputs[0].data: JSON nested deeper than 64 levels (maxJsonDepth)',
    });
  });

  it('400 for data nested deeper than the shape but within maxJsonDepth', async () => {
    const response = await postJson(inferUrl(), nested(20));
    expect(response.status).toBe(400);
    expect(response.body.error).toMatch(/^inputs\[0\]\.data: nested deeper than the shape \(4 dimensions\)/);
  });

  it('JSON bodies otherwise parsed as fastify does: empty, invalid and __proto__ bodies are 400s', async () => {
    for (const body of ['', '{"inputs":', '{"__proto__":{"x":1},"inputs":[]}']) {
      const response = await postJson(inferUrl(), body);
      expect(response.status, body).toBe(400);
      expect(response.body).toEqual({ error: expect.any(String) });
    }
  });

  it('a body cannot pass for one the parser read: "fast": true is an unknown member, not a 500', async () => {
    // The fast path's result used to be recognised by a "fast": true member, which a client's JSON
    // could carry too (the handler then read a request that was not there: 500).
    const response = await postJson(inferUrl(), { fast: true, ...infer(new Array(784).fill(0)) });
    expect(response.status).toBe(200);
    const without = await postJson(inferUrl(), { fast: true, data: [] });
    expect(without.status).toBe(400);
    expect(without.body.error).toMatch(/^inputs: /);
  });

  it.each([1e39, 3.5e38, -1e39])('400 for %d, finite as a double but not as FP32', async (value) => {
    const data = new Array(784).fill(0);
    data[5] = value;
    const response = await postJson(inferUrl(), infer(data));
    expect(response.status).toBe(400);
    expect(response.body.error).toMatch(/^inputs\[0\]\.data\[5\]: .*outside the FP32 range/);
  });

  it('500 saying so, never a 200 with nulls, when the model answers a non-finite number', async () => {
    // 3e38 is a finite FP32, but a convolution over it overflows inside the model.
    const response = await postJson(inferUrl(), infer(new Array(784).fill(3e38)));
    expect(response.status).toBe(500);
    expect(response.body).toEqual({ error: expect.stringMatching(/not a finite number/) });
  });
});

describe('/v1/predict canvas size', () => {
  it.each([
    ['width', { width: 1e-320, height: 280 }],
    ['height', { width: 280, height: 1e-320 }],
    ['width', { width: 1e9, height: 280 }],
  ])('400 naming %s for a canvas of %o', async (field, size) => {
    const response = await postJson(`${base}/v1/predict`, { strokes: [[{ x: 1, y: 1 }]], ...size });
    expect(response.status).toBe(400);
    expect(response.body.error).toMatch(new RegExp(`^${field}: `));
  });
});

describe("fastify's and Node's own errors", () => {
  it('414 in the {"error"} shape for a model name over the parameter length', async () => {
    const response = await fetch(`${base}/v2/models/${'m'.repeat(500)}`);
    expect(response.status).toBe(414);
    expect(await response.json()).toEqual({ error: expect.stringMatching(/^url: /) });
  });

  it('400 in the {"error"} shape for a malformed request line', async () => {
    const response = await rawRequest(base, 'GET /healthz HTTP/1.1 extra\r\nHost: x\r\n\r\n');
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body)).toEqual({ error: expect.stringMatching(/^request: /) });
  });

  it('405 with Allow for a method a route does not take, known to Node or not', async () => {
    for (const method of ['DELETE', 'PUT', 'PATCH']) {
      const response = await fetch(`${base}/v2/models/mnist-cnn/infer`, { method });
      expect(response.status, method).toBe(405);
      expect(response.headers.get('allow')).toBe('POST');
      expect(await response.json()).toEqual({
        error: `method: ${method} is not allowed on /v2/models/mnist-cnn/infer (allowed: POST)`,
      });
    }
    const propfind = await rawRequest(base, 'PROPFIND /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(propfind.status).toBe(405);
    expect(propfind.headers.allow).toBe('GET, HEAD');
    const unknown = await rawRequest(base, 'FROB /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(unknown.status).toBe(405);
    expect(JSON.parse(unknown.body)).toEqual({ error: expect.stringMatching(/^method: /) });
    // An unknown path stays a 404, whatever the method.
    expect((await fetch(`${base}/nothing`, { method: 'DELETE' })).status).toBe(404);
  });
});

describe('metrics', () => {
  it('kinfer_http_requests_in_flight comes back down when clients hang up mid-request', async () => {
    const gauge = async () =>
      Number(
        /kinfer_http_requests_in_flight (\d+)/.exec(
          await runtime.app.metrics.registry.getSingleMetricAsString('kinfer_http_requests_in_flight'),
        )?.[1],
      );
    const big = JSON.stringify(infer(new Array(784).fill(0)))
      .replace('[1,1,28,28]', '[256,1,28,28]')
      .replace(/"data":\[[^\]]*\]/, `"data":[${new Array(256 * 784).fill(0).join(',')}]`);
    const head = `POST /v2/models/mnist-cnn/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n`;
    // Hung up mid-body, and after the whole body while the answer is being computed.
    for (const request of [
      `${head}Content-Length: 1000\r\n\r\n{"inputs":`,
      `${head}Content-Length: ${big.length}\r\n\r\n${big}`,
      `${head}Content-Length: ${big.length}\r\n\r\n${big}`,
    ]) {
      const socket = await openSocket(base);
      socket.write(request);
      await new Promise((resolve) => setTimeout(resolve, 20));
      socket.destroy();
    }
    const deadline = Date.now() + 5000;
    while ((await gauge()) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await gauge()).toBe(0);
  });
});
