import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
let compiledEntry: string | undefined;

/**
 * The compiled kinfer, dist/cli/main.js, which is what the container image runs; brought up to date
 * once per benchmark by `npm run build:dev` (incremental tsc). Benchmarks measure it, not the sources
 * through tsx (bin/kinfer.js in a clone): tsx wraps every named function the code creates to keep
 * its name, ~0.7 µs each, a per-request cost the image does not pay.
 */
export function compiledKinfer(): string {
  if (compiledEntry) return compiledEntry;
  const build = spawnSync('npm', ['run', '--silent', 'build:dev'], { cwd: root, stdio: ['ignore', 2, 2] });
  if (build.status !== 0) throw new Error(`npm run build:dev failed (${build.status ?? build.signal})`);
  compiledEntry = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
  return compiledEntry;
}

/**
 * Starts a Node child process and resolves once its stdout matches `ready`, with the port it logged
 * (`"address":"http://…:PORT"`, as pino logs fastify's listen). Its stdout is drained from then on.
 */
export function startChild(args: string[], ready: RegExp): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let port = 0;
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const address = /"address":"http:\/\/[^"]*:(\d+)"/.exec(out);
      if (address) port = Number(address[1]);
      if (port && ready.test(out)) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve({ child, port });
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`child exited with ${code}: ${out}`)));
  });
}

/**
 * `kinfer runtime` (compiled) on a free loopback port, resolved once the model is loaded and warmed;
 * `bin`: another checkout's dist/cli/main.js (or bin/kinfer.js), to compare two builds in one run;
 * `nodeFlags`: Node/V8 options for its process (e.g. `--max-semi-space-size=16`), before `bin`.
 */
export const startRuntime = (
  model: string,
  extraArgs: string[],
  bin = compiledKinfer(),
  nodeFlags: string[] = [],
) =>
  startChild(
    [
      ...nodeFlags,
      bin,
      'runtime',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--model',
      model,
      '--log-level',
      'info',
      ...extraArgs,
    ],
    /"event":"model.ready"/,
  );

export async function stopChild(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
