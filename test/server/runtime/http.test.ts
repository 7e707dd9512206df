import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningRuntime } from '../../../src/runtime/server.ts';
import { getJson, postJson, startTestRuntime } from './helpers.ts';

// Everything around inference: probes, bearer auth, CORS, /metrics, /docs.

const token = 's3cret-token-for-tests';
let runtime: RunningRuntime;
let base: string;
const auth = { authorization: `Bearer ${token}` };
const digit = {
  inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', data: new Array(784).fill(0.2) }],
};

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kinfer-auth-'));
  writeFileSync(join(dir, 'token'), `${token}\n`); // a Secret mount often ends in a newline
  runtime = await startTestRuntime({
    authTokenFile: join(dir, 'token'),
    corsOrigins: ['http://localhost:5173'],
    podName: 'mnist-7d9f-abcde',
  });
  base = runtime.url;
});
afterAll(async () => {
  await runtime?.close();
});

describe('probes', () => {
  it('/healthz and /readyz answer without credentials', async () => {
    expect(await getJson(`${base}/healthz`)).toMatchObject({ status: 200, body: { status: 'ok' } });
    const ready = await getJson(`${base}/readyz`);
    expect(ready).toMatchObject({ status: 200, body: { status: 'ready', model: { name: 'mnist-cnn' } } });
    expect((await getJson(`${base}/v2/health/live`)).status).toBe(200);
    expect((await getJson(`${base}/v2/health/ready`)).status).toBe(200);
  });
});

describe('bearer auth', () => {
  it('401 with WWW-Authenticate and {"error"} without a token or with a wrong one, on every other route', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: token }] as Record<
      string,
      string
    >[]) {
      for (const path of ['/v2', '/v2/models/mnist-cnn', '/metrics', '/docs/json']) {
        const response = await fetch(`${base}${path}`, { headers });
        expect(response.status, path).toBe(401);
        expect(response.headers.get('www-authenticate')).toBe('Bearer');
        expect(await response.json()).toEqual({ error: 'missing or invalid bearer token' });
      }
      expect((await postJson(`${base}/v2/models/mnist-cnn/infer`, digit, headers)).status).toBe(401);
      expect((await postJson(`${base}/v1/predict`, { pixels: new Array(784).fill(0) }, headers)).status).toBe(
        401,
      );
    }
  });

  it('leaves the demo page public (it holds no data) but never takes a token from the query elsewhere', async () => {
    expect((await fetch(`${base}/`)).status).not.toBe(401);
    expect((await fetch(`${base}/v2?token=${token}`)).status).toBe(401);
  });

  it('serves with the right token', async () => {
    expect((await postJson(`${base}/v2/models/mnist-cnn/infer`, digit, auth)).status).toBe(200);
    expect((await getJson(`${base}/v2/models/mnist-cnn`, auth)).status).toBe(200);
  });
});

describe('kinfer-pod header', () => {
  it('names the serving pod on every answer, errors and probes included', async () => {
    for (const [path, headers] of [
      ['/healthz', {}],
      ['/v2/models/mnist-cnn', auth],
      ['/v2/models/mnist-cnn', {}],
      ['/no-such-route', auth],
    ] as const) {
      const { headers: got } = await getJson(`${base}${path}`, headers);
      expect(got.get('kinfer-pod'), path).toBe('mnist-7d9f-abcde');
    }
    const { headers: got } = await postJson(`${base}/v2/models/mnist-cnn/infer`, digit, auth);
    expect(got.get('kinfer-pod')).toBe('mnist-7d9f-abcde');
  });

  it('is absent when the runtime has no pod name', async () => {
    const plain = await startTestRuntime({}, false);
    try {
      expect((await getJson(`${plain.url}/healthz`)).headers.get('kinfer-pod')).toBeNull();
    } finally {
      await plain.close();
    }
  });
});

describe('CORS', () => {
  it('allows the configured origin (preflight and response) and no other', async () => {
    const preflight = await fetch(`${base}/v1/predict`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:5173',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,authorization',
      },
    });
    expect(preflight.status).toBeLessThan(300);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    const response = await fetch(`${base}/healthz`, { headers: { origin: 'http://localhost:5173' } });
    expect(response.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    const other = await fetch(`${base}/healthz`, { headers: { origin: 'http://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('/metrics', () => {
  it('exposes request counts and latency by route, batch sizes, queue depth and inference time', async () => {
    await postJson(`${base}/v2/models/mnist-cnn/infer`, digit, auth);
    await postJson(`${base}/v2/models/mnist-cnn/infer`, { inputs: [] }, auth);
    const response = await fetch(`${base}/metrics`, { headers: auth });
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(text).toMatch(
      /^kinfer_http_requests_total\{method="POST",route="\/v2\/models\/:model\/infer",status="200"\} [1-9]/m,
    );
    expect(text).toMatch(
      /^kinfer_http_requests_total\{method="POST",route="\/v2\/models\/:model\/infer",status="400"\} 1$/m,
    );
    expect(text).toMatch(
      /^kinfer_http_request_duration_seconds_bucket\{le="0.005",method="POST",route="\/v2\/models\/:model\/infer"\}/m,
    );
    expect(text).toMatch(/^kinfer_batch_size_count [1-9]/m);
    expect(text).toMatch(/^kinfer_inference_duration_seconds_count [1-9]/m);
    expect(text).toMatch(/^kinfer_queue_wait_seconds_count [1-9]/m);
    expect(text).toMatch(/^kinfer_queue_depth 0$/m);
    expect(text).toMatch(/^kinfer_batches_running 0$/m);
    expect(text).toMatch(/^kinfer_model_ready 1$/m);
    expect(text).toMatch(/^kinfer_images_total [1-9]/m);
    expect(text).toMatch(/^kinfer_process_cpu_seconds_total/m);
  });

  it('labels unknown paths as unmatched, never by their raw URL', async () => {
    await fetch(`${base}/no/such/path/zq-raw-url-marker`, { headers: auth });
    const text = await (await fetch(`${base}/metrics`, { headers: auth })).text();
    expect(text).not.toMatch(/zq-raw-url-marker/);
    expect(text).toMatch(/route="unmatched",status="404"/);
  });
});

describe('/docs', () => {
  it('serves an OpenAPI document generated from the schemas, and its UI', async () => {
    const { status, body } = await getJson(`${base}/docs/json`, auth);
    expect(status).toBe(200);
    expect(body.openapi).toMatch(/^3\./);
    const infer = body.paths['/v2/models/{model}/infer'].post;
    expect(infer.requestBody.content['application/json'].schema.properties.inputs.type).toBe('array');
    expect(body.paths['/v1/predict'].post.requestBody).toBeDefined();
    expect(body.paths['/v2/models/{model}'].get).toBeDefined();
    expect(body.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
    const ui = await fetch(`${base}/docs`, { headers: auth });
    expect(ui.status).toBe(200);
    expect(await ui.text()).toMatch(/swagger/i);
  });
});
