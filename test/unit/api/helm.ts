import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..', '..');

/** The helm binary .ci/run builds from the Go module proxy (version pinned in charts/helm-version.env). */
export function helmBinary(): string {
  const version = /^HELM_VERSION=(\S+)$/m.exec(
    readFileSync(join(root, 'charts', 'helm-version.env'), 'utf8'),
  )?.[1];
  if (!version) throw new Error('charts/helm-version.env has no HELM_VERSION');
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const binary = join(base, 'kinfer', 'helm', version, 'helm');
  if (!existsSync(binary))
    throw new Error(`helm ${version} is missing at ${binary}: run .ci/run, which builds it`);
  return binary;
}

/** Runs helm in the repository root; throws with helm's own output when it fails. */
export function helm(args: string[]): string {
  const result = spawnSync(helmBinary(), args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  if (result.status !== 0)
    throw new Error(`helm ${args.join(' ')} failed:\n${result.stderr}${result.stdout}`);
  return result.stdout;
}
