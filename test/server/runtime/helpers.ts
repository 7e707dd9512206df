import { connect, type Socket } from 'node:net';
import { crc32, deflateSync } from 'node:zlib';
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

/** A raw TCP connection to the runtime at `url`, open once connected; errors are swallowed. */
export async function openSocket(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  return socket;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Writes `request` bytes as they are (a malformed request line, an unknown method) and reads the
 * one response that comes back, until the server closes or `timeoutMs` passes.
 */
export async function rawRequest(
  url: string,
  request: string | Buffer,
  timeoutMs = 5000,
): Promise<RawResponse> {
  const socket = await openSocket(url);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.write(request);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    const check = () => {
      if (parseRaw(Buffer.concat(chunks)) !== undefined) {
        clearTimeout(timer);
        resolve();
      }
    };
    socket.on('data', check);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  socket.destroy();
  const parsed = parseRaw(Buffer.concat(chunks));
  if (!parsed) throw new Error(`no complete response: ${JSON.stringify(Buffer.concat(chunks).toString())}`);
  return parsed;
}

/** One HTTP/1.1 response with a Content-Length body, or undefined while incomplete. */
function parseRaw(bytes: Buffer): RawResponse | undefined {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  if (bytes.length < end + 4 + length) return undefined;
  return {
    status: Number(statusLine!.split(' ')[1]),
    headers,
    body: bytes.subarray(end + 4, end + 4 + length).toString('utf8'),
  };
}

/**
 * A `width x height` 8-bit greyscale PNG, black but for a white square in the middle, built
 * directly (pngjs would hold the whole RGBA image): a few KB that decode to `width*height` pixels.
 */
export function largePng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // greyscale
  const rows = Buffer.alloc((width + 1) * height); // filter byte 0, then the row
  for (let y = Math.floor(height / 3); y < Math.floor((2 * height) / 3); y++) {
    rows.fill(
      255,
      y * (width + 1) + 1 + Math.floor(width / 3),
      y * (width + 1) + 1 + Math.floor((2 * width) / 3),
    );
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** `n` points zig-zagging across a `size` canvas: the most rasterising work per point. */
export const zigzag = (n: number, size: number) =>
  Array.from({ length: n }, (_, i) => ({ x: i % 2 ? size : 0, y: (i * 37) % size }));

/**
 * Polls `/healthz` back to back until `work` settles; resolves to the slowest answer in ms. The
 * event loop answers it, so a slow one means something held the loop.
 */
export async function slowestHealthz(url: string, work: Promise<unknown>): Promise<number> {
  let done = false;
  void work.finally(() => {
    done = true;
  });
  let slowest = 0;
  while (!done) {
    const started = performance.now();
    await fetch(`${url}/healthz`).then((r) => r.arrayBuffer());
    slowest = Math.max(slowest, performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return slowest;
}
