// The GitOps judges (test/gitops): a Go program that runs Argo CD's own health code, configured by
// argocd/argocd-cm.yaml, and kstatus's status.Compute over objects. Built once from the Go module
// proxy into a cache outside the clone, keyed by everything that changes the binary.
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildOnce } from './build-lock.ts';

const execFileAsync = promisify(execFile);

/** `go build` flags (-s -w: no symbol tables, a third smaller); part of the cache key. */
const buildFlags = ['-ldflags=-s -w'];

export const judgesModuleDir = resolve(dirname(fileURLToPath(import.meta.url)), '../gitops');
export const argoCdConfigMap = resolve(judgesModuleDir, '../../argocd/argocd-cm.yaml');

/** The Go toolchain go.mod pins (`toolchain goX.Y.Z`): argo-cd v3.6 needs Go 1.27, fetched through the module proxy. */
export function pinnedToolchain(moduleDir = judgesModuleDir): string {
  const match = /^toolchain (go\d+\.\d+\.\d+)$/m.exec(readFileSync(join(moduleDir, 'go.mod'), 'utf8'));
  if (!match?.[1]) throw new Error(`${moduleDir}/go.mod: no \`toolchain goX.Y.Z\` line`);
  return match[1];
}

/** Where the binary for these exact sources and pins lives (it may not exist yet). */
export function judgesBinaryPath(env: NodeJS.ProcessEnv = process.env, moduleDir = judgesModuleDir): string {
  const hash = createHash('sha256');
  hash.update(`${buildFlags.join(' ')}\0`);
  const sources = readdirSync(moduleDir).filter((file) => /^(go\.mod|go\.sum|.*\.go)$/.test(file));
  for (const file of sources.sort()) {
    hash.update(`${file}\0`);
    hash.update(readFileSync(join(moduleDir, file)));
  }
  const cache = join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'kinfer', 'gitops-judges');
  return join(cache, hash.digest('hex').slice(0, 16), 'gitops-judges');
}

/**
 * Returns the cached binary, building it first (under `nice`, with the pinned toolchain and
 * read-only modules) when these sources have none. A warm call reads the sources and builds nothing.
 */
export async function ensureJudges(
  onBuildStart?: (binary: string) => void,
): Promise<{ binary: string; built: boolean }> {
  const binary = judgesBinaryPath();
  const cached = async () => (existsSync(binary) ? { binary, built: false } : undefined);
  mkdirSync(dirname(binary), { recursive: true });
  return buildOnce(`${binary}.lock`, cached, async () => {
    onBuildStart?.(binary);
    await buildJudges(binary);
    return { binary, built: true };
  });
}

async function buildJudges(binary: string): Promise<void> {
  const temp = `${binary}.tmp-${process.pid}`;
  try {
    await execFileAsync('nice', ['-n', '10', 'go', 'build', ...buildFlags, '-o', temp, '.'], {
      cwd: judgesModuleDir,
      env: {
        ...process.env,
        GOTOOLCHAIN: pinnedToolchain(),
        CGO_ENABLED: '0',
        GOFLAGS: '-trimpath -buildvcs=false -mod=readonly',
      },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    rmSync(temp, { force: true });
    const { stderr, message } = error as { stderr?: string; message: string };
    throw new Error(
      `go build of test/gitops failed: ${(stderr || message).trim().split('\n').slice(-30).join('\n')}`,
    );
  }
  renameSync(temp, binary);
}

export interface Verdict {
  status?: string;
  message: string;
  error?: string;
}
export interface Judgement {
  argocd: Verdict;
  kstatus: Verdict;
}

/** Runs both judges over objects (one process for all), in order. */
export function judge(binary: string, objects: readonly unknown[], configMap = argoCdConfigMap): Judgement[] {
  const result = spawnSync(binary, ['--argocd-cm', configMap], {
    input: JSON.stringify(objects),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw new Error(`cannot run ${binary}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${binary} exited with ${result.status}: ${result.stderr}`);
  const judgements = JSON.parse(result.stdout) as Judgement[];
  if (judgements.length !== objects.length)
    throw new Error(`${binary} judged ${judgements.length} of ${objects.length} objects`);
  return judgements;
}
