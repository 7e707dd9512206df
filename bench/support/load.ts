import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';

/** One pre-serialised request body with its headers. */
export interface Body {
  data: Buffer;
  headers: Record<string, string>;
}

/**
 * 64 different request bodies of `n` digits each (`pixel(i)` gives the i-th 0..1 pixel of the
 * digits laid end to end), as V2 JSON or as V2 binary tensor data.
 */
export const v2Bodies = (pixel: (i: number) => number, n: number, binary: boolean): Body[] =>
  Array.from({ length: 64 }, (_, b): Body => {
    const values = Array.from({ length: n * 784 }, (_, k) => pixel(b * n * 784 + k));
    const shape = [n, 1, 28, 28];
    if (!binary) {
      const data = Buffer.from(
        JSON.stringify({ inputs: [{ name: 'input', shape, datatype: 'FP32', data: values }] }),
      );
      return { data, headers: { 'content-type': 'application/json', 'content-length': String(data.length) } };
    }
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'input', shape, datatype: 'FP32', parameters: { binary_data_size: n * 784 * 4 } }],
        parameters: { binary_data_output: true },
      }),
    );
    const tensor = Float32Array.from(values);
    const data = Buffer.concat([header, Buffer.from(tensor.buffer)]);
    return {
      data,
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(data.length),
        'inference-header-content-length': String(header.length),
      },
    };
  });

/** [ppid, CPU seconds (user + system, every thread)] of a process, from /proc; undefined once gone. */
function stat(pid: number): [number, number] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return [Number(fields[1]), (Number(fields[11]) + Number(fields[12])) / 100]; // utime, stime in USER_HZ ticks
}

/**
 * CPU seconds (user + system, every thread) a process has used so far. A process that is gone
 * throws: a benchmark that read 0 instead would print a ratio built on a process that died.
 */
export function cpuSeconds(pid: number): number {
  const s = stat(pid);
  if (!s) throw new Error(`CPU seconds of pid ${pid}: the process is gone (no /proc/${pid}/stat)`);
  return s[1];
}

/**
 * CPU seconds used so far by a process and all its live descendants (servers such as Ray Serve
 * or MLServer do their work in child processes). A descendant that exits between two readings
 * takes its CPU time with it, so measure over a window in which the server keeps its processes.
 */
export function treeCpuSeconds(root: number): number {
  const children = new Map<number, number[]>();
  const cpu = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const s = stat(pid);
    if (!s) continue;
    cpu.set(pid, s[1]);
    children.set(s[0], [...(children.get(s[0]) ?? []), pid]);
  }
  let total = 0;
  const pending = [root];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    total += cpu.get(pid) ?? 0;
    pending.push(...(children.get(pid) ?? []));
  }
  return total;
}

export interface LoadResult {
  imagesPerSecond: number;
  /** Images per CPU-second the server used (`cpu`): robust to other load on the machine. */
  imagesPerCpuSecond: number;
  p50: number;
  p99: number;
  errors: number;
}

export interface LoadOptions {
  port: number;
  path: string;
  concurrency: number;
  bodies: Body[];
  imagesPerRequest: number;
  seconds: number;
  /** The server's CPU seconds so far (read before and after the measured window). */
  cpu: () => number;
  /** Warm-up before measuring: connections, JIT, worker caches (default 500 ms). */
  warmupMs?: number;
}

/**
 * Closed-loop load, wrk-style: `concurrency` keep-alive sockets, each writing a pre-serialised
 * request and the next one as soon as the answer's last byte arrives. Raw sockets instead of
 * http.Agent keep the generator's own CPU small (it shares the cores with the server).
 */
export async function closedLoop(options: LoadOptions): Promise<LoadResult> {
  const { port, path, concurrency, imagesPerRequest } = options;
  const requests = options.bodies.map((body) =>
    Buffer.concat([
      Buffer.from(
        `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n${Object.entries(body.headers)
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join('')}\r\n`,
      ),
      body.data,
    ]),
  );
  let recording = false;
  let stopAt = 0;
  const latencies: number[] = [];
  let errors = 0;
  const connection = (first: number) =>
    new Promise<void>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.setNoDelay(true);
      let n = first;
      let sentAt = 0;
      let buffer: Buffer = Buffer.alloc(0);
      const send = () => {
        if (performance.now() >= stopAt) {
          socket.end();
          return resolve();
        }
        sentAt = performance.now();
        socket.write(requests[n++ % requests.length]!);
      };
      socket.on('connect', send);
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
        for (;;) {
          const headerEnd = buffer.indexOf('\r\n\r\n');
          if (headerEnd < 0) return;
          const head = buffer.subarray(0, headerEnd).toString('latin1');
          if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
            socket.destroy();
            return reject(new Error(`${path}: chunked answers are not measured`));
          }
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          if (buffer.length < headerEnd + 4 + length) return;
          buffer = buffer.subarray(headerEnd + 4 + length);
          if (recording) {
            latencies.push(performance.now() - sentAt);
            if (!head.startsWith('HTTP/1.1 200')) errors++;
          }
          send();
        }
      });
    });
  const run = async (ms: number) => {
    stopAt = performance.now() + ms;
    await Promise.all(Array.from({ length: concurrency }, (_, c) => connection(c)));
  };
  await run(options.warmupMs ?? 500);
  recording = true;
  const start = performance.now();
  const cpuStart = options.cpu();
  await run(options.seconds * 1000);
  const elapsed = (performance.now() - start) / 1000;
  const cpu = options.cpu() - cpuStart;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? Number.NaN;
  return {
    imagesPerSecond: ((latencies.length - errors) * imagesPerRequest) / elapsed,
    imagesPerCpuSecond: ((latencies.length - errors) * imagesPerRequest) / cpu,
    p50: at(0.5),
    p99: at(0.99),
    errors,
  };
}
