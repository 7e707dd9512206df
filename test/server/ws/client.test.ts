import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConnectionClosedError,
  drawingClient,
  HttpError,
  RestClient,
  ServerError,
} from '../../../src/client/index.ts';
import { loadMnistTest, type MnistTest } from '../../../src/datasets/idx.ts';
import { startTestRuntime, type TestRuntime } from './harness.ts';

// The typed client and `kinfer predict` against the real runtime on loopback.

let runtime: TestRuntime;
let mnist: MnistTest;
const token = 'client-token';

beforeAll(async () => {
  [runtime, mnist] = await Promise.all([startTestRuntime({ token }), loadMnistTest()]);
});
afterAll(async () => {
  await runtime?.close();
});

const digit = (i: number) => Array.from(mnist.images.subarray(i * 784, i * 784 + 784));
function png(i: number): Buffer {
  const image = new PNG({ width: 28, height: 28, colorType: 0, inputColorType: 0, bitDepth: 8 });
  image.data = Buffer.from(digit(i));
  return PNG.sync.write(image, { colorType: 0, inputColorType: 0 });
}

describe('RestClient', () => {
  it('predicts, infers (V2) and reports health with the bearer token', async () => {
    const rest = new RestClient({ url: runtime.url, token });
    expect(await rest.health()).toEqual({ live: true, ready: true });
    const one = await rest.predict({ pixels: digit(0) });
    expect(one).toMatchObject({ model: { name: 'mnist-cnn', sha256: runtime.predictor.model.sha256 } });
    const many = await rest.predictMany([{ pixels: digit(0) }, { image: png(1).toString('base64') }]);
    expect(many.predictions.map((p) => p.prediction)).toEqual([
      one.prediction,
      (await rest.predict({ image: png(1).toString('base64') })).prediction,
    ]);
    const images = new Float32Array(2 * 784);
    images.set(
      digit(0).map((v) => v / 255),
      0,
    );
    images.set(
      digit(1).map((v) => v / 255),
      784,
    );
    const probabilities = await rest.infer('mnist-cnn', images, 2);
    expect(probabilities).toHaveLength(2);
    expect(probabilities[0]).toHaveLength(10);
    expect((await rest.model('mnist-cnn')).name).toBe('mnist-cnn');
  });

  it('serves the demo page without a token (its WebSocket is what authenticates)', async () => {
    const page = await fetch(`${runtime.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<canvas id="canvas"');
  });

  it('throws HttpError with the status and the server message', async () => {
    const anonymous = new RestClient({ url: runtime.url });
    await expect(anonymous.predict({ pixels: digit(0) })).rejects.toMatchObject({ status: 401 });
    const rest = new RestClient({ url: runtime.url, token });
    const error = await rest.predict({ pixels: [1, 2, 3] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ status: 400, message: expect.stringMatching(/^HTTP 400: .*pixels/) });
    await expect(rest.model('nope')).rejects.toMatchObject({ status: 404 });
  });
});

describe('DrawingClient on Node', () => {
  it('draws, gets live predictions, submits, predicts and pings', async () => {
    const session = drawingClient({ url: runtime.url, token });
    const live: number[] = [];
    session.on('prediction', (p) => live.push(p.prediction));
    const welcome = await session.connect();
    expect(welcome.model.sha256).toBe(runtime.predictor.model.sha256);
    const firstLive = new Promise((resolve) => session.once('prediction', resolve));
    session.stroke([
      { x: 140, y: 40 },
      { x: 140, y: 240 },
    ]);
    await firstLive;
    const submitted = await session.submit();
    expect(live.at(-1)).toBe(submitted.prediction);
    const rest = await new RestClient({ url: runtime.url, token }).predict({ pixels: digit(3) });
    expect((await session.predict({ pixels: digit(3) })).prediction).toBe(rest.prediction);
    expect(await session.ping()).toBeLessThan(1000);
    await session.clear();
    await expect(session.submit()).rejects.toEqual(expect.any(ServerError));
    session.close();
    await expect(session.ping()).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('gives up on a wrong token (1008) instead of reconnecting', async () => {
    const session = drawingClient({ url: runtime.url, token: 'wrong' });
    const states: string[] = [];
    session.on('state', (state) => states.push(state));
    await expect(session.connect()).rejects.toMatchObject({ closeCode: 1008 });
    expect(states).toEqual(['connecting', 'closed']);
  });
});

describe('kinfer predict', () => {
  const bin = new URL('../../../bin/kinfer.js', import.meta.url).pathname;
  const run = promisify(execFile);

  it('prints a table and JSON for PNG files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kinfer-predict-'));
    const files = [0, 1, 2].map((i) => {
      const file = join(dir, `digit-${i}.png`);
      writeFileSync(file, png(i));
      return file;
    });
    const rest = await new RestClient({ url: runtime.url, token }).predictMany(
      [0, 1, 2].map((i) => ({ image: png(i).toString('base64') })),
    );
    const env = { ...process.env, KINFER_TOKEN: token };
    const table = await run(process.execPath, [bin, 'predict', ...files, '--url', runtime.url], { env });
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^FILE\s+DIGIT\s+CONFIDENCE$/);
    lines.slice(1, 4).forEach((line, i) => {
      expect(line).toMatch(new RegExp(`^${files[i]}\\s+${rest.predictions[i]?.prediction}\\s+\\d+\\.\\d%$`));
    });
    expect(lines[4]).toContain(`sha256 ${runtime.predictor.model.sha256}`);

    const json = await run(process.execPath, [bin, 'predict', ...files, '--url', runtime.url, '--json'], {
      env,
    });
    const parsed = JSON.parse(json.stdout) as { predictions: { file: string; prediction: number }[] };
    expect(parsed.predictions.map((p) => [p.file, p.prediction])).toEqual(
      files.map((file, i) => [file, rest.predictions[i]?.prediction]),
    );
  });

  it('names the problem and exits non-zero', async () => {
    const [missing, noFiles, badUrl] = await Promise.all(
      [['/nonexistent.png'], [], ['x.png', '--url', 'ftp://x']].map((args) =>
        run(process.execPath, [bin, 'predict', ...args], {}).catch((e: unknown) => e),
      ),
    );
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringContaining('/nonexistent.png: ENOENT') });
    expect(noFiles).toMatchObject({ code: 2, stderr: expect.stringContaining('name at least one PNG file') });
    expect(badUrl).toMatchObject({ code: 2, stderr: expect.stringContaining('--url') });
  });
});
