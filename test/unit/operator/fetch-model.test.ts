import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChecksumMismatchError,
  FetchFailedError,
  FetchModelOptionsSchema,
  fetchModel,
} from '../../../src/cli/commands/fetch-model.ts';

// A loopback server stands in for the model host (the only I/O here, no network beyond 127.0.0.1).
const model = Buffer.alloc(300_000, 7);
const digest = createHash('sha256').update(model).digest('hex');
let server: http.Server;
let base: string;
let flaky = 0;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fetch-model-'));
  server = http.createServer((request, response) => {
    if (request.url === '/model.onnx') response.end(model);
    else if (request.url === '/flaky.onnx') {
      flaky++;
      if (flaky < 2) response.writeHead(503).end();
      else response.end(model);
    } else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.close();
  await rm(dir, { recursive: true, force: true });
});

const options = (uri: string, out: string, sha256 = digest) =>
  FetchModelOptionsSchema.parse({ uri, sha256, out, attempts: '3' });

describe('fetchModel', () => {
  it('downloads, verifies and moves the file into place', async () => {
    const out = join(dir, 'a', 'model.onnx');
    const result = await fetchModel(options(`${base}/model.onnx`, out));
    expect(result.bytes).toBe(model.length);
    expect(readFileSync(out).equals(model)).toBe(true);
    expect(readdirSync(join(dir, 'a'))).toEqual(['model.onnx']);
  });

  it('leaves nothing behind on a checksum mismatch', async () => {
    const out = join(dir, 'b', 'model.onnx');
    await expect(fetchModel(options(`${base}/model.onnx`, out, 'c'.repeat(64)))).rejects.toBeInstanceOf(
      ChecksumMismatchError,
    );
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(join(dir, 'b'))).toEqual([]);
  });

  it('retries a 503 and fails at once on a 404', async () => {
    const out = join(dir, 'c', 'model.onnx');
    await fetchModel(options(`${base}/flaky.onnx`, out));
    expect(flaky).toBe(2);
    await expect(
      fetchModel(options(`${base}/missing.onnx`, join(dir, 'd', 'm.onnx'))),
    ).rejects.toBeInstanceOf(FetchFailedError);
  });

  it('validates its options, naming the field', () => {
    const result = FetchModelOptionsSchema.safeParse({ uri: 'ftp://x', sha256: 'abc', out: '/m' });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path[0]).sort()).toEqual(['sha256', 'uri']);
  });
});
