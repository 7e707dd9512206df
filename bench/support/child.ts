import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const kinferBin = fileURLToPath(new URL('../../bin/kinfer.js', import.meta.url));

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
 * `kinfer runtime` on a free loopback port, resolved once the model is loaded and warmed; `bin`:
 * another checkout's bin/kinfer.js, to compare two builds in one run.
 */
export const startRuntime = (model: string, extraArgs: string[], bin = kinferBin) =>
  startChild(
    [
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
