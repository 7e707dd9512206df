import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningRuntime } from '../../../src/runtime/server.ts';
import { startTestRuntime } from './helpers.ts';

// The OpenAPI document at /docs/json is valid (checked by a third-party validator of the OpenAPI
// 3 schema) and describes every route: its parameters, its auth and its real status codes.

const token = 'openapi-test-token';
// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document, checked by the validator
type Doc = any;
const runtimes: RunningRuntime[] = [];
let open: Doc;
let secured: Doc;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kinfer-openapi-'));
  writeFileSync(join(dir, 'token'), token);
  const plain = await startTestRuntime({}, false);
  const withAuth = await startTestRuntime({ authTokenFile: join(dir, 'token') }, false);
  runtimes.push(plain, withAuth);
  open = (await plain.app.inject({ url: '/docs/json' })).json();
  secured = (
    await withAuth.app.inject({ url: '/docs/json', headers: { authorization: `Bearer ${token}` } })
  ).json();
});
afterAll(async () => {
  await Promise.all(runtimes.map((r) => r.close()));
});

const operations = (doc: Doc) =>
  Object.entries(doc.paths as Record<string, Record<string, Doc>>).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({ path, method, operation })),
  );

describe.each([
  ['without auth', () => open],
  ['with a bearer token', () => secured],
])('the OpenAPI document %s', (_name, doc) => {
  it('is valid OpenAPI', async () => {
    const result = await new Validator().validate(doc());
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('describes the probes, metrics, /ws and the model configuration', () => {
    for (const path of [
      '/healthz',
      '/readyz',
      '/metrics',
      '/ws',
      '/v2/models/{model}/config',
      '/v1/predict',
    ]) {
      expect(doc().paths[path], path).toBeDefined();
    }
    // A plain GET on /ws is answered 426 (it counts against the connection budget: 503 too).
    expect(doc().paths['/ws'].get.responses['426']).toBeDefined();
    expect(doc().paths['/ws'].get.responses['200']).toBeUndefined();
    expect(Object.keys(doc().paths['/readyz'].get.responses).sort()).toEqual(['200', '503']);
  });

  it('declares exactly the path parameters each path has', () => {
    for (const { path, operation } of operations(doc())) {
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      const declared = (operation.parameters ?? [])
        .filter((p: Doc) => p.in === 'path')
        .map((p: Doc) => p.name)
        .sort();
      expect(declared, path).toEqual(inPath);
    }
  });

  it('does not let /v1/predict accept {}: every alternative requires its fields', () => {
    const schema = doc().paths['/v1/predict'].post.requestBody.content['application/json'].schema;
    expect(schema.oneOf.length).toBeGreaterThan(1);
    for (const alternative of schema.oneOf)
      expect(alternative.required?.length, JSON.stringify(alternative)).toBeGreaterThan(0);
  });

  it('documents the errors every route can answer', () => {
    for (const { path, method, operation } of operations(doc())) {
      const codes = Object.keys(operation.responses);
      if (method === 'post') expect(codes, path).toEqual(expect.arrayContaining(['400', '413', '503']));
      if (path.includes('{')) expect(codes, path).toEqual(expect.arrayContaining(['404', '414']));
    }
  });
});

describe('auth in the OpenAPI document', () => {
  it('requires the bearer token on every route but the public ones, which say 401 is not theirs', () => {
    expect(secured.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
    const publicPaths = ['/healthz', '/readyz', '/v2/health/live', '/v2/health/ready'];
    for (const { path, operation } of operations(secured)) {
      if (publicPaths.includes(path)) {
        expect(operation.security, path).toEqual([]);
        expect(operation.responses['401'], path).toBeUndefined();
      } else {
        expect(operation.security ?? secured.security, path).toEqual([{ bearer: [] }]);
        expect(operation.responses['401'], path).toBeDefined();
      }
    }
  });

  it('has no security at all without a token', () => {
    expect(open.security).toBeUndefined();
    for (const { operation } of operations(open)) expect(operation.responses['401']).toBeUndefined();
  });
});
