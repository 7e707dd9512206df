import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, mkdir, readdir, readFile, rename, rm, stat, symlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildOnce } from './build-lock.ts';

const execFileAsync = promisify(execFile);

/** The Go module that builds the multi-call control-plane binary. */
export const controlPlaneModuleDir = resolve(dirname(fileURLToPath(import.meta.url)), '../controlplane');

/** Component names: `kcp <name> ...`, or a symlink with that name pointing at kcp. */
export const componentNames = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kwok',
] as const;
export type ComponentName = (typeof componentNames)[number];

/** The real node's components in the same binary (`kcp kubelet ...`, or a symlink). */
export const nodeComponentNames = ['kubelet', 'kube-proxy'] as const;
export type NodeComponentName = (typeof nodeComponentNames)[number];

/**
 * Besides kcp, the build directory holds `coredns` (its own module, coredns/) and `pause` (the
 * pod sandbox's process, copied into the locally built pause image).
 */
export const extraBinaries = ['coredns', 'pause'] as const;

export class ControlPlaneBuildError extends Error {
  readonly code = 'controlplane_build_failed';
  constructor(
    message: string,
    readonly logPath?: string,
    readonly logTail?: string,
  ) {
    super(message);
  }
}

export interface PinnedVersions {
  kubernetes: string;
  kwok: string;
  coredns: string;
}

export async function readPinnedVersions(moduleDir = controlPlaneModuleDir): Promise<PinnedVersions> {
  const text = await readFile(join(moduleDir, 'versions.env'), 'utf8');
  const value = (key: string): string => {
    const match = new RegExp(`^${key}=(v[0-9][^\\s]*)$`, 'm').exec(text);
    if (!match?.[1]) throw new ControlPlaneBuildError(`versions.env: ${key} is missing or not a version`);
    return match[1];
  };
  return {
    kubernetes: value('KUBERNETES_VERSION'),
    kwok: value('KWOK_VERSION'),
    coredns: value('COREDNS_VERSION'),
  };
}

function ldflags(versions: PinnedVersions): string {
  const [major, minor] = versions.kubernetes.replace(/^v/, '').split('.');
  const pkg = 'k8s.io/component-base/version';
  // -s -w: no symbol tables (about a third smaller); --version and the apiserver's /version stay
  // right because they come from these variables.
  return [
    '-s',
    '-w',
    `-X ${pkg}.gitVersion=${versions.kubernetes}`,
    `-X ${pkg}.gitMajor=${major}`,
    `-X ${pkg}.gitMinor=${minor}`,
    `-X ${pkg}.gitTreeState=clean`,
  ].join(' ');
}

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'kinfer', 'controlplane');
}

async function goVersion(): Promise<string> {
  try {
    const { stdout } = await execFileAsync('go', ['env', 'GOVERSION', 'GOOS', 'GOARCH']);
    return stdout.trim().split('\n').join('-');
  } catch (error) {
    throw new ControlPlaneBuildError(
      `cannot run \`go\` (${(error as Error).message}); Go 1.24+ is needed to build the test control plane`,
    );
  }
}

/** The Go sources of one package directory of the module, relative to the module directory. */
async function goSources(moduleDir: string, packageDir: string): Promise<string[]> {
  const files = (await readdir(join(moduleDir, packageDir))).filter((f) => f.endsWith('.go')).sort();
  return files.map((f) => join(packageDir, f));
}

/** Everything that changes the binaries: pinned modules, sources, Go toolchain, linker flags. */
export async function buildKey(moduleDir = controlPlaneModuleDir): Promise<{ key: string; dir: string }> {
  const versions = await readPinnedVersions(moduleDir);
  const hash = createHash('sha256');
  hash.update(await goVersion());
  hash.update(ldflags(versions));
  const files = [
    'go.mod',
    'go.sum',
    ...(await goSources(moduleDir, join('cmd', 'kcp'))),
    ...(await goSources(moduleDir, join('cmd', 'pause'))),
    join('coredns', 'go.mod'),
    join('coredns', 'go.sum'),
    ...(await goSources(moduleDir, 'coredns')),
  ];
  for (const file of files) {
    hash.update(file);
    hash.update(await readFile(join(moduleDir, file)));
  }
  const key = `k8s-${versions.kubernetes}-kwok-${versions.kwok}-coredns-${versions.coredns}-${hash.digest('hex').slice(0, 12)}`;
  return { key, dir: join(cacheRoot(), key) };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

export interface BuildResult {
  /** Directory holding `kcp` and one symlink per component (usable as KUBEBUILDER_ASSETS). */
  dir: string;
  binary: string;
  built: boolean;
  elapsedMs: number;
  logPath?: string;
  sizeBytes: number;
}

async function tail(path: string, lines = 40): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Returns the cached control-plane binary, building it first when this exact key has no binary
 * yet. A warm call runs `go env` once and builds nothing. A process that needs the same key while
 * another builds it waits for that build (buildOnce) instead of starting the same one beside it.
 */
export async function ensureControlPlaneBinary(
  options: { onBuildStart?: (logPath: string) => void } = {},
): Promise<BuildResult> {
  const started = Date.now();
  const { key, dir } = await buildKey();
  const binary = join(dir, 'kcp');
  const cached = async (): Promise<BuildResult | undefined> =>
    (await exists(binary))
      ? { dir, binary, built: false, elapsedMs: Date.now() - started, sizeBytes: (await stat(binary)).size }
      : undefined;
  await mkdir(cacheRoot(), { recursive: true });
  return buildOnce(
    join(cacheRoot(), `${key}.lock`),
    cached,
    async () => {
      const logPath = await buildControlPlane(key, dir, options.onBuildStart);
      return {
        dir,
        binary,
        built: true,
        elapsedMs: Date.now() - started,
        logPath,
        sizeBytes: (await stat(binary)).size,
      };
    },
    {
      onWait: (pid) =>
        process.stderr.write(`controlplane: process ${pid} is building ${key}; waiting for it\n`),
    },
  );
}

/** Builds kcp, pause and CoreDNS into a temp directory and renames it to `dir`; returns the log. */
async function buildControlPlane(
  key: string,
  dir: string,
  onBuildStart?: (logPath: string) => void,
): Promise<string> {
  const versions = await readPinnedVersions();
  const logPath = join(cacheRoot(), `${key}.build.log`);
  const temp = `${dir}.tmp-${process.pid}`;
  await rm(temp, { recursive: true, force: true });
  await mkdir(temp, { recursive: true });
  onBuildStart?.(logPath);
  const log = createWriteStream(logPath);
  const goBuild = (cwd: string, args: string[]) =>
    new Promise<number | null>((resolvePromise, reject) => {
      log.write(`$ go build ${args.join(' ')}   (in ${cwd})\n`);
      const child = spawn('go', ['build', '-ldflags', ldflags(versions), ...args], {
        cwd,
        env: {
          ...process.env,
          CGO_ENABLED: '0',
          // -mod=readonly: the committed go.mod/go.sum are the pins; a build never rewrites them.
          GOFLAGS: '-trimpath -buildvcs=false -mod=readonly',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout.pipe(log, { end: false });
      child.stderr.pipe(log, { end: false });
      child.on('error', reject);
      child.on('close', resolvePromise);
    });
  // One after the other: each already keeps both cores busy.
  let code = await goBuild(controlPlaneModuleDir, ['-o', `${temp}/`, './cmd/kcp', './cmd/pause']);
  if (code === 0)
    code = await goBuild(join(controlPlaneModuleDir, 'coredns'), ['-o', join(temp, 'coredns'), '.']);
  await new Promise((resolveEnd) => log.end(resolveEnd));
  if (code !== 0) {
    await rm(temp, { recursive: true, force: true });
    throw new ControlPlaneBuildError(
      `go build of the control plane failed (exit ${code}); log: ${logPath}`,
      logPath,
      await tail(logPath),
    );
  }
  for (const name of [...componentNames, ...nodeComponentNames]) await symlink('kcp', join(temp, name));
  try {
    await rename(temp, dir);
  } catch (error) {
    // Another build (one that took a stale lock) won the race; its binary is the same.
    await rm(temp, { recursive: true, force: true });
    if (!(await exists(join(dir, 'kcp')))) throw error;
  }
  return logPath;
}
