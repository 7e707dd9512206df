// Tilt's compile step (`npm run build:dev`) in a copy of the project: a full build first, then
// nothing rewritten when nothing changed, then only the edited module's output after an edit, so
// Tilt syncs a few files and the operator restarts once instead of resyncing all of dist/.
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kinfer-dev-compile-'));
  for (const path of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'scripts'])
    cpSync(join(root, path), join(dir, path), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs the dev build in the copy; returns the files it says it wrote. */
function devBuild(): string[] {
  const result = spawnSync('npm', ['run', '--silent', 'build:dev'], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 170_000,
  });
  expect(result.status, result.stdout + result.stderr).toBe(0);
  const line = /^dev build: (\d+) file\(s\) written in \d+ ms(?:: (.*))?$/m.exec(result.stdout);
  expect(line, result.stdout).not.toBeNull();
  const files = line![2]?.split(' ') ?? [];
  expect(files).toHaveLength(Number(line![1]));
  return files.sort();
}

/** Modification time of every file under dist/. */
function mtimes(): Map<string, number> {
  const dist = join(dir, 'dist');
  return new Map(
    readdirSync(dist, { recursive: true, encoding: 'utf8' })
      .filter((path) => statSync(join(dist, path)).isFile())
      .map((path) => [`dist/${path}`, statSync(join(dist, path)).mtimeMs]),
  );
}

const changedSince = (before: Map<string, number>): string[] =>
  [...mtimes()]
    .filter(([path, mtime]) => before.get(path) !== mtime)
    .map(([path]) => path)
    .sort();

it('builds all of dist/, then rewrites nothing without an edit and only the edited module after one', () => {
  const first = devBuild();
  for (const path of [
    'dist/cli/main.js',
    'dist/cli/main.js.map',
    'dist/web/index.html',
    'dist/web/page.html',
  ])
    expect(existsSync(join(dir, path)), path).toBe(true);
  expect(first.length).toBeGreaterThan(100);

  const built = mtimes();
  expect(devBuild()).toEqual([]);
  expect(changedSince(built)).toEqual([]);

  appendFileSync(join(dir, 'src', 'cli', 'main.ts'), '\n// an edit\n');
  const edited = ['dist/.tsbuildinfo', 'dist/cli/main.js', 'dist/cli/main.js.map'];
  expect(devBuild()).toEqual(edited);
  expect(changedSince(built)).toEqual(edited);
}, 180_000);
