/**
 * `npm run bench:peers` (documented, not in CI): kinfer against the Python servers a user would
 * pick instead, all serving the same ONNX model over the same KServe V2 JSON route on loopback,
 * with their batching on, under the same closed-loop load, in one run, interleaved:
 *
 *   fastapi   FastAPI + onnxruntime under uvicorn, with a hand-written 2 ms / 64-image batcher
 *   ray       Ray Serve, one replica, @serve.batch (64 requests, 2 ms)
 *   kserve    KServe's Python model server (its batcher is a separate agent, so none here)
 *   mlserver  Seldon MLServer, a custom onnxruntime runtime, adaptive batching (64, 2 ms)
 *
 * The peers run from two venvs this script makes on first use, from PyPI (a few minutes, ~1.5 GB):
 * `--venv` from bench/peers/requirements.txt, and `<venv>-mlserver` from requirements-mlserver.txt
 * (MLServer's pins clash with KServe's and Ray's). Each server's CPU is that of its whole process tree (Ray and
 * MLServer work in child processes). Every peer's session has one intra-op thread, like each of
 * kinfer's workers.
 *
 *   npm run bench:peers -- [--seconds 5] [--rounds 2] [--images 1,64] [--concurrency 64]
 *                          [--model mnist-cnn] [--peers fastapi,ray,kserve,mlserver] [--venv DIR]
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, homedir, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type BuiltinModel, builtinModels } from '../src/api/modeldeployment.ts';
import { loadMnistTest } from '../src/datasets/idx.ts';
import { builtinModelPath } from '../src/runtime/config.ts';
import { freePorts } from '../test/support/controlplane.ts';
import { startRuntime, stopChild } from './support/child.ts';
import { closedLoop, type LoadResult, treeCpuSeconds, v2Bodies } from './support/load.ts';

const peerNames = ['fastapi', 'ray', 'kserve', 'mlserver'] as const;
type Peer = (typeof peerNames)[number];

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    images: { type: 'string', default: '1,64' },
    concurrency: { type: 'string', default: '64' },
    model: { type: 'string', default: 'mnist-cnn' },
    peers: { type: 'string', default: peerNames.join(',') },
    venv: { type: 'string', default: join(homedir(), '.cache/kinfer/venv-peers') },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);
const sizes = values.images.split(',').map(Number);
if (!(seconds > 0)) throw new Error('--seconds: expected a positive number');
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds: expected a positive integer');
if (!Number.isInteger(concurrency) || concurrency < 1)
  throw new Error('--concurrency: expected a positive integer');
if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 1024))
  throw new Error('--images: expected image counts from 1 to 1024, comma-separated');
const modelName = values.model as BuiltinModel;
if (!builtinModels.includes(modelName))
  throw new Error(`--model: "${values.model}" is not one of ${builtinModels.join(', ')}`);
const peers = values.peers.split(',').filter(Boolean) as Peer[];
for (const peer of peers)
  if (!peerNames.includes(peer)) throw new Error(`--peers: "${peer}" is not one of ${peerNames.join(', ')}`);

const peersDir = fileURLToPath(new URL('./peers/', import.meta.url));
const venvs = {
  main: {
    dir: values.venv,
    requirements: 'requirements.txt',
    imports: 'fastapi, uvicorn, onnxruntime, ray.serve, kserve',
  },
  mlserver: {
    dir: `${values.venv}-mlserver`,
    requirements: 'requirements-mlserver.txt',
    imports: 'mlserver, onnxruntime',
  },
};
const python = join(venvs.main.dir, 'bin/python');
const modelPath = builtinModelPath(modelName);
const path = `/v2/models/${modelName}/infer`;

/** A peers' venv, made (or completed) from its requirements file when its imports fail. */
function ensureVenv({
  dir,
  requirements,
  imports,
}: {
  dir: string;
  requirements: string;
  imports: string;
}): void {
  const bin = join(dir, 'bin/python');
  if (existsSync(bin) && spawnSync(bin, ['-c', `import ${imports}`]).status === 0) return;
  console.log(`making the venv ${dir} from bench/peers/${requirements} (PyPI, a few minutes, once)`);
  if (!existsSync(bin)) run('python3.11', ['-m', 'venv', dir]);
  run(bin, ['-m', 'pip', 'install', '--quiet', '-r', join(peersDir, requirements)]);
}

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.error})`);
}

const freePort = async (): Promise<number> => (await freePorts(1))[0]!;

interface Server {
  name: string;
  port: number;
  child: ChildProcess;
  stop: () => Promise<void>;
}

/** Starts one peer in its own process group (Ray and MLServer spawn helpers), and how to stop it. */
async function startPeer(peer: Peer): Promise<Server> {
  const port = await freePort();
  const args = ['--model', modelPath, '--name', modelName, '--port', String(port)];
  let child: ChildProcess;
  let cleanup = () => {};
  const options = {
    cwd: peersDir,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'] as ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PYTHONPATH: peersDir, RAY_USAGE_STATS_ENABLED: '0' },
  };
  if (peer === 'mlserver') {
    const dir = mkdtempSync(join(tmpdir(), 'kinfer-mlserver-'));
    cleanup = () => rmSync(dir, { recursive: true, force: true });
    writeFileSync(
      join(dir, 'settings.json'),
      JSON.stringify({
        host: '127.0.0.1',
        http_port: port,
        grpc_port: await freePort(),
        metrics_port: await freePort(),
        parallel_workers: 1,
      }),
    );
    writeFileSync(
      join(dir, 'model-settings.json'),
      JSON.stringify({
        name: modelName,
        implementation: 'mlserver_runtime.Digits',
        parameters: { uri: modelPath },
        max_batch_size: 64,
        max_batch_time: 0.002,
      }),
    );
    child = spawn(join(venvs.mlserver.dir, 'bin/mlserver'), ['start', dir], options);
  } else {
    const script = { fastapi: 'fastapi_onnx.py', ray: 'ray_serve.py', kserve: 'kserve_server.py' }[peer];
    child = spawn(python, [script, ...args], options);
  }
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    const group = -child.pid!;
    try {
      process.kill(group, 'SIGTERM');
    } catch {}
    const killer = setTimeout(() => {
      try {
        process.kill(group, 'SIGKILL');
      } catch {}
    }, 10_000);
    await exited;
    clearTimeout(killer);
    try {
      process.kill(group, 'SIGKILL'); // helpers that outlive the leader
    } catch {}
    cleanup();
  };
  try {
    await untilServing(port, () => (child.exitCode !== null ? `${peer} exited: ${stderr}` : undefined));
  } catch (error) {
    await stop();
    throw new Error(`${peer}: ${(error as Error).message}\n${stderr}`);
  }
  return { name: peer, port, child, stop };
}

/** Polls the infer route with one real request until it answers 200 (two minutes at most). */
async function untilServing(port: number, failed: () => string | undefined): Promise<void> {
  const body = v2Bodies(pixel, 1, false)[0]!;
  const deadline = Date.now() + 120_000;
  for (;;) {
    const why = failed();
    if (why) throw new Error(why);
    try {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: body.data.toString(),
      });
      if (response.status === 200) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`port ${port}: not serving ${path} after two minutes`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

const digits = await loadMnistTest();
const pixel = (i: number) => digits.images[i % (digits.count * 784)]! / 255;

ensureVenv(venvs.main);
if (peers.includes('mlserver')) ensureVenv(venvs.mlserver);
const servers: Server[] = [];
try {
  const kinfer = await startRuntime(modelPath, ['--model-name', modelName]);
  servers.push({
    name: 'kinfer',
    port: kinfer.port,
    child: kinfer.child,
    stop: () => stopChild(kinfer.child),
  });
  for (const peer of peers) servers.push(await startPeer(peer));

  const best = new Map<string, LoadResult>();
  const key = (server: string, size: number) => `${server}@${size}`;
  for (let r = 0; r < rounds; r++) {
    for (const size of sizes) {
      const bodies = v2Bodies(pixel, size, false);
      for (const server of servers) {
        const result = await closedLoop({
          port: server.port,
          path,
          concurrency,
          bodies,
          imagesPerRequest: size,
          seconds,
          cpu: () => treeCpuSeconds(server.child.pid!),
          warmupMs: 1000,
        });
        const previous = best.get(key(server.name, size));
        if (!previous || result.imagesPerCpuSecond > previous.imagesPerCpuSecond)
          best.set(key(server.name, size), result);
      }
    }
  }

  console.log(
    `kinfer and its peers: ${modelName}, V2 JSON, c=${concurrency}, best of ${rounds} interleaved rounds of ${seconds}s, ` +
      `${availableParallelism()} cores, load average ${loadavg()[0]!.toFixed(1)} at the end, ${new Date().toISOString()}`,
  );
  for (const size of sizes) {
    console.log(`\n${size} digit(s) per request`);
    console.log(
      `  ${'server'.padEnd(10)} ${'img/s'.padStart(8)} ${'p99 ms'.padStart(8)} ${'img/cpu-s'.padStart(10)}   kinfer / it (img/s, img/cpu-s)`,
    );
    const ours = best.get(key('kinfer', size))!;
    for (const server of servers) {
      const r = best.get(key(server.name, size))!;
      const ratio =
        server.name === 'kinfer'
          ? ''
          : `${(ours.imagesPerSecond / r.imagesPerSecond).toFixed(2)}x, ${(ours.imagesPerCpuSecond / r.imagesPerCpuSecond).toFixed(2)}x`;
      console.log(
        `  ${server.name.padEnd(10)} ${r.imagesPerSecond.toFixed(0).padStart(8)} ${r.p99.toFixed(1).padStart(8)} ${r.imagesPerCpuSecond.toFixed(0).padStart(10)}   ${ratio}${r.errors ? `  (${r.errors} errors)` : ''}`,
      );
    }
  }
} finally {
  for (const server of servers) await server.stop();
}
