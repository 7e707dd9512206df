/**
 * `npm run bench:stall`: what the worst inputs the documented limits allow cost everyone else.
 * One `kinfer runtime` child process (defaults, the bundled model); the load generator runs in
 * this process on the same cores. Two phases of --seconds each, measured the same way:
 *
 *   quiet   --clients closed-loop clients sending one-digit V2 requests (JSON), and /healthz
 *           polled every 20 ms
 *   attack  the same, while the attack mix runs continuously: the largest drawing /v1/predict
 *           allows (16,384 zig-zag points), a 4096x4096 PNG (the whole --max-image-pixels), over
 *           /ws a 4,096-point zig-zag canvas submitted again and again and 4096x4096 PNGs, V2 data
 *           nested 10,000 deep, a gzip bomb, and uploads that stall mid-body
 *
 * Prints /healthz p99 and max, and the ordinary requests' p50/p99, in both phases, with the
 * attack/quiet ratios (the claim is the ratio; the issue asks for healthz p99 < 100 ms and
 * ordinary p99 within 3x of quiet). Not a CI gate. Options: --seconds N (default 10), --clients N
 * (default 4), --attacks drawing,png,deep,bomb,ws-canvas,ws-png,stalled (a subset, to see which
 * one costs what).
 */
import http from 'node:http';
import net from 'node:net';
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import WebSocket from 'ws';
import { bundledModelPath } from '../src/runtime/config.ts';
import { largePng, zigzag } from '../test/server/runtime/helpers.ts';
import { startRuntime, stopChild } from './support/child.ts';
import { cpuBetween, machineCpu, threadCpu } from './support/thread-cpu.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    clients: { type: 'string', default: '4' },
    attacks: { type: 'string', default: 'drawing,png,deep,bomb,ws-canvas,ws-png,stalled' },
  },
});
const seconds = Number(values.seconds);
const clients = Number(values.clients);
const attacks = new Set(values.attacks.split(','));

const { child, port } = await startRuntime(bundledModelPath, []);
const agent = new http.Agent({ keepAlive: true });

/** One request on a keep-alive connection; resolves to its status (0 when the connection failed). */
const send = (path: string, body: string | Buffer | undefined, headers: Record<string, string> = {}) =>
  new Promise<number>((resolve) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: body === undefined ? 'GET' : 'POST',
        agent,
        headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', () => resolve(0));
    request.end(body);
  });

// Bodies serialised once, so the generator's own JSON work is the same in both phases.
const pixels = Array.from({ length: 784 }, (_, i) => ((i * 7919) % 255) / 255);
const ordinary = JSON.stringify({
  inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', data: pixels }],
});
const zig = zigzag(4096, 280);
const drawing = JSON.stringify({ strokes: [zig, zig, zig, zig], width: 280, height: 280 });
const png = largePng(4096, 4096).toString('base64');
const pngBody = JSON.stringify({ image: png });
const deep = `{"inputs":[{"name":"input","shape":[1,1,28,28],"datatype":"FP32","data":${'['.repeat(10_000)}0${']'.repeat(10_000)}}]}`;
const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
/** /ws messages (with their ids), serialised once like the bodies, and how many get an answer. */
const wsMessages = (messages: object[]) => ({
  frames: messages.map((m, id) => JSON.stringify({ ...m, id })),
  answers: messages.filter((m) => (m as { type: string }).type !== 'stroke').length,
});
const wsCanvas = wsMessages([{ type: 'stroke', points: zig }, { type: 'submit' }, { type: 'submit' }]);
const wsPng = wsMessages([{ type: 'predict', image: png }]);

interface Phase {
  ordinary: number[];
  healthz: number[];
  errors: number;
  /** This process's own event-loop delay p99 (ms): the part of the times the generator adds. */
  generatorLagP99: number;
  /** CPU used, in cores: the server's threads by role, this process, and the whole machine. */
  cpu: Map<string, number>;
}

/** Closed-loop ordinary clients and the /healthz poller, for `ms`. */
async function measure(ms: number): Promise<Phase> {
  const phase: Phase = { ordinary: [], healthz: [], errors: 0, generatorLagP99: 0, cpu: new Map() };
  const lag = monitorEventLoopDelay({ resolution: 5 });
  lag.enable();
  const started = {
    at: performance.now(),
    server: threadCpu(child.pid!),
    bench: process.cpuUsage(),
    machine: machineCpu(),
  };
  const end = performance.now() + ms;
  const timed = async (into: number[], path: string, body?: string) => {
    const started = performance.now();
    const status = await send(path, body);
    into.push(performance.now() - started);
    if (status !== 200) phase.errors++;
  };
  const poller = (async () => {
    while (performance.now() < end) {
      await timed(phase.healthz, '/healthz');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  await Promise.all([
    poller,
    ...Array.from({ length: clients }, async () => {
      while (performance.now() < end) await timed(phase.ordinary, '/v2/models/mnist-cnn/infer', ordinary);
    }),
  ]);
  lag.disable();
  phase.generatorLagP99 = lag.percentile(99) / 1e6;
  const elapsed = performance.now() - started.at;
  for (const [role, cpuMs] of cpuBetween(started.server, threadCpu(child.pid!))) {
    phase.cpu.set(`server ${role}`, cpuMs / elapsed);
  }
  const bench = process.cpuUsage(started.bench);
  phase.cpu.set('this bench process', (bench.user + bench.system) / 1000 / elapsed);
  const machine = machineCpu();
  phase.cpu.set(
    'whole machine',
    ((machine.busy - started.machine.busy) / (machine.total - started.machine.total)) *
      availableParallelism(),
  );
  return phase;
}

/** The attack mix, looping until `stop()`; counts what was sent and how it was answered. */
/** True while the attack mix runs. */
let attacking = false;
function attack() {
  attacking = true;
  const answers = new Map<string, number>();
  const count = (what: string) => answers.set(what, (answers.get(what) ?? 0) + 1);
  const loop = (what: string, once: () => Promise<number | string>) =>
    (async () => {
      while (attacking && attacks.has(what)) count(`${what} ${await once()}`);
    })();
  const loops = [
    loop('drawing', () => send('/v1/predict', drawing)),
    loop('png', () => send('/v1/predict', pngBody)),
    loop('deep', () => send('/v2/models/mnist-cnn/infer', deep)),
    loop('bomb', () => send('/v2/models/mnist-cnn/infer', bomb, { 'content-encoding': 'gzip' })),
    loop('ws-canvas', () => wsRound(wsCanvas)),
    loop('ws-png', () => wsRound(wsPng)),
    loop('stalled', stalledUpload),
  ];
  return {
    answers,
    stop: async () => {
      attacking = false;
      // A stalled upload still held at the end is counted as such, not waited for (the server's
      // request timeout, 120 s by default, is tested in test/server/runtime/timeouts.test.ts).
      for (const socket of stalledSockets) socket.destroy();
      await Promise.all(loops);
    },
  };
}

/** A /ws session sending `frames`, resolved with the codes of its answers once all came back. */
function wsRound({ frames, answers }: { frames: string[]; answers: number }): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const codes: string[] = [];
    ws.on('error', () => resolve('error'));
    ws.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as {
        type: string;
        id?: number;
        code?: string;
        live?: boolean;
      };
      if (message.type === 'welcome') {
        for (const frame of frames) ws.send(frame);
        return;
      }
      if (message.id === undefined || message.live) return;
      codes.push(message.code ?? message.type);
      if (codes.length === answers) {
        ws.close();
        resolve([...new Set(codes)].join('+'));
      }
    });
  });
}

/** Headers and half a body, then nothing: the server's request timeout must end it. */
const stalledSockets = new Set<net.Socket>();
function stalledUpload(): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(
        'POST /v2/models/mnist-cnn/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"inputs":',
      );
    });
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    socket.on('error', () => {});
    stalledSockets.add(socket);
    socket.on('close', () => {
      stalledSockets.delete(socket);
      resolve(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? (attacking ? 'cut' : 'held'));
    });
  });
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? Number.NaN;
};
const ms = (n: number) => `${n.toFixed(1)} ms`;

try {
  console.log(`bench:stall  ${seconds} s per phase, ${clients} ordinary clients, server pid ${child.pid}`);
  await measure(1000); // warm-up: connections, JIT, batcher
  const quiet = await measure(seconds * 1000);
  const mix = attack();
  await new Promise((resolve) => setTimeout(resolve, 1000)); // the attack under way
  const loud = await measure(seconds * 1000);
  await mix.stop();

  const row = (what: string, values: (p: Phase) => number[], q: number) => {
    const a = quantile(values(quiet), q);
    const b = quantile(values(loud), q);
    console.log(
      `${what.padEnd(26)} ${ms(a).padStart(10)} ${ms(b).padStart(10)} ${(b / a).toFixed(2).padStart(7)}x`,
    );
  };
  console.log(`${''.padEnd(26)} ${'quiet'.padStart(10)} ${'attack'.padStart(10)} ${'ratio'.padStart(8)}`);
  row('/healthz p99', (p) => p.healthz, 0.99);
  row('/healthz max', (p) => p.healthz, 1);
  row('one-digit V2 p50', (p) => p.ordinary, 0.5);
  row('one-digit V2 p99', (p) => p.ordinary, 0.99);
  console.log(
    `${'bench event-loop lag p99'.padEnd(26)} ${ms(quiet.generatorLagP99).padStart(10)} ${ms(loud.generatorLagP99).padStart(10)}   (the generator's own share of the times)`,
  );
  console.log(
    `ordinary requests: quiet ${quiet.ordinary.length} (${quiet.errors} not 200), attack ${loud.ordinary.length} (${loud.errors} not 200)`,
  );
  console.log(`CPU in cores (${availableParallelism()} here)`);
  for (const role of new Set([...quiet.cpu.keys(), ...loud.cpu.keys()])) {
    const cores = (p: Phase) => (p.cpu.get(role) ?? 0).toFixed(2).padStart(10);
    console.log(`  ${role.padEnd(24)} ${cores(quiet)} ${cores(loud)}`);
  }
  console.log(`attack answers: ${[...mix.answers].map(([k, v]) => `${k} x${v}`).join(', ')}`);
} finally {
  agent.destroy();
  await stopChild(child);
}
