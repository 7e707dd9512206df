// The container image cannot be built here (no Docker), so this test rebuilds its layout by hand
// from the Dockerfile's own steps: compile in a build directory, copy the non-TypeScript assets
// with the Dockerfile's command, then run `kinfer` from a directory that has dist/ but no src/,
// exactly what the runtime stage holds.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
let dir: string;
let app: string;

function run(command: string, args: string[], cwd: string) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (result.error) throw result.error;
  return result;
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
    const help = run(process.execPath, ['bin/kinfer.js', '--help'], app);
    expect(help.status).toBe(0);
    const commands = [...help.stdout.matchAll(/^ {2}([a-z-]+) /gm)].map((m) => m[1]!);
    expect(commands).toEqual(expect.arrayContaining(['runtime', 'operator', 'job', 'fetch-model']));
    const results = await Promise.all(
      commands.map(
        (command) =>
          new Promise<{ command: string; code: number | null; stderr: string }>((resolve) => {
            const child = spawn(process.execPath, ['bin/kinfer.js', command, '--no-such-flag'], { cwd: app });
            let stderr = '';
            child.stderr.on('data', (chunk: Buffer) => {
              stderr += chunk.toString();
            });
            child.on('exit', (code) => resolve({ command, code, stderr }));
          }),
      ),
    );
    for (const { command, code, stderr } of results) {
      // A usage error (exit 2) proves the module loaded; a missing file would exit 1 with a stack.
      expect(code, `${command}: ${stderr}`).toBe(2);
      expect(stderr).toContain('--no-such-flag');
    }
  }, 60_000);

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
