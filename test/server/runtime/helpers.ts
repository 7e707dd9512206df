import { PNG } from 'pngjs';
import { bundledModelPath, type RuntimeConfig, runtimeConfigSchema } from '../../../src/runtime/config.ts';
import { type RunningRuntime, startRuntime } from '../../../src/runtime/server.ts';

/** The committed model. */
export const testModelPath = bundledModelPath;

/** A real runtime listening on a loopback port, model loaded (unless `waitReady` is false). */
export async function startTestRuntime(
  overrides: Partial<RuntimeConfig> = {},
  waitReady = true,
): Promise<RunningRuntime> {
  const config = runtimeConfigSchema.parse({
    port: 0,
    host: '127.0.0.1',
    model: testModelPath,
    logLevel: 'silent',
    workers: 1,
    ...overrides,
  });
  const runtime = await startRuntime(config);
  if (waitReady) await runtime.ready;
  return runtime;
}

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field by the tests
type Json = any;

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Json };
}

export async function getJson(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Json };
}

/** A 28x28 greyscale PNG of 0..255 pixels (optionally dark on light). */
export function pngOf(pixels: ArrayLike<number>, invert = false): Buffer {
  const png = new PNG({ width: 28, height: 28 });
  for (let i = 0; i < 784; i++) {
    const v = invert ? 255 - pixels[i]! : pixels[i]!;
    png.data[i * 4] = v;
    png.data[i * 4 + 1] = v;
    png.data[i * 4 + 2] = v;
    png.data[i * 4 + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: 0 });
}

export const argmax = (values: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
};
