/**
 * `npm run build:dev`, the compile step of the Tiltfile: the dist/ of `npm run build` plus the
 * Dockerfile's asset copy, but rewriting only what an edit changed. tsc runs incrementally (its
 * build info lives in dist/, so deleting dist/ starts over) and re-emits only the modules whose
 * source changed; the demo page and the non-TypeScript assets are written only when their content
 * differs. Tilt then syncs a few files in one go and the operator's `node --watch` restarts once.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleDemoPage } from '../src/web/bundle.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');

/** Writes `content` to `path` unless the file already holds exactly that; says whether it wrote. */
async function writeIfChanged(path: string, content: Buffer): Promise<boolean> {
  const current = await readFile(path).catch(() => undefined);
  if (current?.equals(content)) return false;
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
  return true;
}

const started = performance.now();
const tsc = spawnSync(
  process.execPath,
  [
    join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
    ...['-p', join(root, 'tsconfig.build.json'), '--incremental'],
    ...['--tsBuildInfoFile', join(dist, '.tsbuildinfo'), '--listEmittedFiles'],
  ],
  { cwd: root, encoding: 'utf8' },
);
if (tsc.status !== 0) {
  process.stderr.write(tsc.stdout + tsc.stderr);
  process.exit(tsc.status ?? 1);
}
const written = [...tsc.stdout.matchAll(/^TSFILE: (.*)$/gm)].map((m) => relative(root, m[1]!));

if (await writeIfChanged(join(dist, 'web', 'index.html'), Buffer.from(await bundleDemoPage())))
  written.push('dist/web/index.html');

const src = join(root, 'src');
for (const entry of await readdir(src, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || entry.name.endsWith('.ts')) continue;
  const from = join(entry.parentPath, entry.name);
  const to = join(dist, relative(src, from));
  if (await writeIfChanged(to, await readFile(from))) written.push(relative(root, to));
}

process.stdout.write(
  `dev build: ${written.length} file(s) written in ${Math.round(performance.now() - started)} ms${
    written.length ? `: ${written.join(' ')}` : ''
  }\n`,
);
