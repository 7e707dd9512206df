import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { testModelPath } from './helpers.ts';

// The real `kinfer runtime` process: --max-semi-space-mb reaches V8 as --max-semi-space-size by
// the runtime executing itself again in the same process (the pid the caller started is the one
// that serves), unless Node was already given the flag; 0 leaves V8's own sizing.

const bin = fileURLToPath(new URL('../../../bin/kinfer.js', import.meta.url));
let child: ChildProcess | undefined;

afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
});

/** Starts the runtime; once it listens, the V8 options of the process it started, and its address. */
async function nodeOptionsOfRuntime(args: string[], env: NodeJS.ProcessEnv = {}) {
  child = spawn(
    process.execPath,
    [bin, 'runtime', '--host', '127.0.0.1', '--port', '0', '--model', testModelPath, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  const pid = child.pid!;
  let out = '';
  const address = await new Promise<string>((resolve, reject) => {
    child!.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const listening = /"event":"server\.listening".*?"address":"([^"]+)"/.exec(out);
      if (listening) resolve(listening[1]!);
    });
    child!.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child!.once('exit', (code) => reject(new Error(`runtime exited with ${code}: ${out}`)));
  });
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  const response = await fetch(`${address}/healthz`);
  await response.arrayBuffer();
  return { flags: argv.filter((arg) => arg.startsWith('--max-semi-space-size')), status: response.status };
}

it.runIf(process.platform === 'linux')(
  'the default reaches V8 in the same process, which then serves',
  async () => {
    expect(await nodeOptionsOfRuntime([])).toEqual({ flags: ['--max-semi-space-size=16'], status: 200 });
  },
);

it.runIf(process.platform === 'linux')(
  'the setting from the environment, 0, and a flag Node was given',
  async () => {
    expect(await nodeOptionsOfRuntime([], { KINFER_MAX_SEMI_SPACE_MB: '4' })).toMatchObject({
      flags: ['--max-semi-space-size=4'],
    });
    child!.kill('SIGKILL');
    expect(await nodeOptionsOfRuntime(['--max-semi-space-mb', '0'])).toMatchObject({ flags: [] });
    child!.kill('SIGKILL');
    // NODE_OPTIONS is not on the command line: no re-execution, so the flag does not appear there.
    expect(
      await nodeOptionsOfRuntime(['--max-semi-space-mb', '32'], { NODE_OPTIONS: '--max-semi-space-size=2' }),
    ).toMatchObject({ flags: [] });
  },
);
