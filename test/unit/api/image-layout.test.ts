// The container image cannot be built here (no Docker), so this test rebuilds its layout by hand
// from the Dockerfile's own steps: compile in a build directory, copy the non-TypeScript assets
// with the Dockerfile's command, then run `kinfer` from a directory that has dist/ but no src/,
// exactly what the runtime stage holds.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { FetchModelOptionsSchema } from '../../../src/cli/commands/fetch-model.ts';
import { OperatorOptionsSchema } from '../../../src/cli/commands/operator.ts';
import { PredictOptionsSchema } from '../../../src/cli/commands/predict.ts';
import { WatchOptionsSchema, help as watchHelp } from '../../../src/cli/commands/watch.ts';
import { JobOptionsSchema } from '../../../src/jobs/options.ts';
import { runtimeConfigSchema } from '../../../src/runtime/config.ts';
import { envName, flagName } from '../../../src/shared/options.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
let dir: string;
let app: string;

function run(command: string, args: string[], cwd: string) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (result.error) throw result.error;
  return result;
}

/** `node bin/kinfer.js ...args` in the image layout, its exit code and output. */
function kinfer(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/kinfer.js', ...args], { cwd: app });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The settings object each command's parser reads its flags from, and its short spellings. */
const parsers: Record<string, { settings: z.ZodObject; aliases?: Readonly<Record<string, string>> }> = {
  runtime: { settings: runtimeConfigSchema },
  operator: { settings: OperatorOptionsSchema },
  predict: { settings: PredictOptionsSchema },
  'fetch-model': { settings: FetchModelOptionsSchema },
  job: { settings: JobOptionsSchema },
  watch: { settings: WatchOptionsSchema, aliases: watchHelp.aliases },
};

/** Every spelling a command's parser accepts, as `parseOptions` derives them from the settings. */
const acceptedFlags = (command: string): string[] => {
  const parser = parsers[command]!;
  return [
    ...Object.keys(parser.settings.shape).map((key) => `--${flagName(key)}`),
    ...Object.keys(parser.aliases ?? {}),
  ].sort();
};

/** Every flag a usage text lists at the start of one of its lines (`  -n, --namespace <string>  ...`). */
const listedFlags = (usage: string): string[] =>
  [...usage.matchAll(/^ {2}(-[a-z], )?(--[a-z0-9-]+)/gm)]
    .flatMap((m) => [m[1]?.slice(0, -2), m[2]!])
    .filter((flag): flag is string => Boolean(flag))
    .sort();

/** The commands `kinfer --help` lists. */
async function listedCommands(): Promise<string[]> {
  const { code, stdout } = await kinfer(['--help']);
  expect(code).toBe(0);
  return [...stdout.matchAll(/^ {2}([a-z-]+) /gm)].map((m) => m[1]!);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kinfer-image-'));
  const build = join(dir, 'build');
  for (const path of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'src']) {
    cpSync(join(root, path), join(build, path), { recursive: true });
  }
  symlinkSync(join(root, 'node_modules'), join(build, 'node_modules'));
  // The build stage's command, as the Dockerfile runs it (tsc, then the demo page).
  expect(dockerfile).toContain('RUN npm run build');
  const compiled = run('npm', ['run', 'build', '--silent'], build);
  expect(compiled.status, compiled.stdout + compiled.stderr).toBe(0);
  // The asset step, taken verbatim from the Dockerfile.
  const assets = /&& (cd src && find [^\n]*)/.exec(dockerfile)?.[1];
  expect(assets, 'the Dockerfile copies non-TypeScript assets after npm run build').toBeTruthy();
  const copied = run('sh', ['-c', assets!], build);
  expect(copied.status, copied.stderr).toBe(0);

  app = join(dir, 'app');
  cpSync(join(build, 'dist'), join(app, 'dist'), { recursive: true });
  cpSync(join(root, 'bin'), join(app, 'bin'), { recursive: true });
  cpSync(join(root, 'package.json'), join(app, 'package.json'));
  for (const path of ['node_modules', 'models', 'datasets']) symlinkSync(join(root, path), join(app, path));
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the image layout (dist/, no src/)', () => {
  it('the Dockerfile keeps its promises: production deps, these folders, non-root, kinfer entrypoint', () => {
    expect(dockerfile).toContain('RUN npm ci --omit=dev');
    for (const folder of ['bin', 'models', 'datasets'])
      expect(dockerfile).toContain(`COPY ${folder} ./${folder}`);
    expect(dockerfile).toContain('COPY --from=build /app/dist ./dist');
    expect(dockerfile).toMatch(/^USER [1-9][0-9]*:[1-9][0-9]*$/m);
    expect(dockerfile).toContain('ENTRYPOINT ["node", "bin/kinfer.js"]');
    // .dockerignore is an allow-list: everything is excluded first.
    const rules = readFileSync(join(root, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((line) => line && !line.startsWith('#'));
    expect(rules[0]).toBe('*');
  });

  it('every command loads from dist/', async () => {
    const commands = await listedCommands();
    expect(commands).toEqual(expect.arrayContaining(['runtime', 'operator', 'job', 'fetch-model']));
    const results = await Promise.all(commands.map((command) => kinfer([command, '--no-such-flag'])));
    commands.forEach((command, i) => {
      const { code, stderr } = results[i]!;
      // A usage error (exit 2) proves the module loaded; a missing file would exit 1 with a stack.
      expect(code, `${command}: ${stderr}`).toBe(2);
      expect(stderr).toContain('--no-such-flag');
      expect(stderr).toContain(`see kinfer ${command} --help`);
    });
  }, 60_000);

  it('every command lists exactly the flags its parser accepts for --help and -h, and starts nothing', async () => {
    const commands = await listedCommands();
    expect(Object.keys(parsers).sort(), 'a parser for every command kinfer --help lists').toEqual(
      [...commands].sort(),
    );
    const asks = commands.flatMap((command) => [
      [command, '--help'],
      [command, '-h'],
    ]);
    // Without a model, a cluster or required flags each command would fail or keep running: exit 0
    // with the usage on stdout and nothing on stderr shows help answered before anything started.
    const results = await Promise.all(asks.map((args) => kinfer(args)));
    asks.forEach(([command, flag], i) => {
      const { code, stdout, stderr } = results[i]!;
      expect({ code, stderr }, `${command} ${flag}`).toEqual({ code: 0, stderr: '' });
      expect(stdout).toMatch(new RegExp(`^Usage: kinfer ${command} `));
      expect(listedFlags(stdout), `${command} ${flag}`).toEqual(acceptedFlags(command!));
      for (const key of Object.keys(parsers[command!]!.settings.shape)) {
        // The flag, its variable, its default (or required/unset), then its description below.
        const line = new RegExp(
          `^ {2}(-[a-z], )?--${flagName(key)}( <[^>]+>)? {2}${envName(key)} {2}(default .+|required|unset)\n {6}\\S`,
          'm',
        );
        expect(stdout, `${command} ${flag}: --${flagName(key)}`).toMatch(line);
      }
    });
  }, 60_000);

  it('the test reads the flags in a usage text as a person would, so one left out would fail it', () => {
    const usage = 'Usage: kinfer x\n  -n, --namespace <string>  KINFER_NAMESPACE  default a\n      about\n';
    expect(listedFlags(usage)).toEqual(['--namespace', '-n']);
    expect(listedFlags(usage)).not.toEqual(acceptedFlags('watch'));
  });

  it('kinfer runtime serves the bundled model from dist/', async () => {
    let child: ChildProcess | undefined;
    try {
      child = spawn(process.execPath, ['bin/kinfer.js', 'runtime', '--port', '0', '--host', '127.0.0.1'], {
        cwd: app,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      const address = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`runtime did not listen: ${output}`)), 60_000);
        const onData = (chunk: Buffer) => {
          output += chunk.toString();
          const match = /"address":"(http:\/\/[^"]+)"/.exec(output);
          if (match) {
            clearTimeout(timer);
            resolve(match[1]!);
          }
        };
        child!.stdout!.on('data', onData);
        child!.stderr!.on('data', onData);
        child!.on('exit', (code) => reject(new Error(`runtime exited (${code}): ${output}`)));
      });
      const deadline = Date.now() + 60_000;
      let status = 0;
      while (Date.now() < deadline) {
        status = (await fetch(`${address}/readyz`).catch(() => ({ status: 0 }))).status;
        if (status === 200) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(status, output).toBe(200);
      const page = await fetch(`${address}/`);
      expect(page.status).toBe(200);
    } finally {
      child?.kill('SIGTERM');
    }
  }, 150_000);
});
