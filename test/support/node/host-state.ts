import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { run } from './exec.ts';

// What the real node changes on the host, captured before it starts and put back when it stops,
// and the comparison a test makes between the two.

/** Sysctls the kubelet, kube-proxy and the CNI bridge plugin may set, and the node sets itself. */
export const watchedSysctls = [
  'net/ipv4/ip_forward',
  'net/bridge/bridge-nf-call-iptables',
  'net/bridge/bridge-nf-call-ip6tables',
  'net/ipv4/conf/all/route_localnet',
  'net/netfilter/nf_conntrack_max',
  'net/netfilter/nf_conntrack_tcp_timeout_established',
  'net/netfilter/nf_conntrack_tcp_timeout_close_wait',
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
] as const;

export interface HostSnapshot {
  sysctls: Record<string, string | null>;
  links: string[];
  /** `iptables-save` / `ip6tables-save` output, normalized (see normalizeIptables). */
  iptables: string;
  ip6tables: string;
  mounts: string[];
  /** Entries of /run/netns (containerd 1.6 keeps pod network namespaces there). */
  netns: string[];
  /** Which of watchedPaths existed. */
  paths: Record<string, boolean>;
}

/**
 * Host paths that the node's programs write to whatever they are told: the CNI results cache
 * (libcni), containerd 1.6's shim sockets (`/run/containerd/s`), the kubelet's container log
 * links, and pod network namespaces. Each is removed on teardown when it did not exist before.
 */
export const watchedPaths = ['/var/lib/cni', '/run/containerd', '/var/log/containers', '/run/netns'] as const;

export async function readSysctl(name: string): Promise<string | null> {
  return readFile(`/proc/sys/${name}`, 'utf8').then(
    (value) => value.trim(),
    () => null,
  );
}

export async function writeSysctl(name: string, value: string): Promise<void> {
  await writeFile(`/proc/sys/${name}`, `${value}\n`);
}

async function linkNames(): Promise<string[]> {
  return (await readdir('/sys/class/net')).sort();
}

/** Mount points, in /proc/self/mountinfo order (parents before children). */
export async function mountPoints(): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .filter(Boolean)
    .map((line) => (line.split(' ')[4] ?? '').replace(/\\040/g, ' '));
}

async function iptablesSave(command: string): Promise<string> {
  return normalizeIptables(await run(command, []).catch(() => ''));
}

/**
 * Comments and packet counters dropped, and tables that hold nothing but empty built-in chains
 * with an ACCEPT policy dropped too: with the nf_tables backend such a table is what listing a
 * table leaves behind, and it filters nothing.
 */
export function normalizeIptables(dump: string): string {
  const tables: string[][] = [];
  let current: string[] | undefined;
  for (const raw of dump.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      current = [line];
      tables.push(current);
      continue;
    }
    current?.push(line.replace(/ \[\d+:\d+\]$/, ''));
  }
  return tables
    .filter((lines) =>
      lines.some((line) => line.startsWith('-') || (line.startsWith(':') && !isEmptyBuiltin(line))),
    )
    .map((lines) => lines.join('\n'))
    .join('\n');
}

const builtinChains = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);
/** `:INPUT ACCEPT` (counters already stripped): a built-in chain with the default policy. */
function isEmptyBuiltin(line: string): boolean {
  const [name, policy] = line.slice(1).split(' ');
  return builtinChains.has(name ?? '') && policy === 'ACCEPT';
}

export async function snapshotHost(): Promise<HostSnapshot> {
  const sysctls: Record<string, string | null> = {};
  for (const name of watchedSysctls) sysctls[name] = await readSysctl(name);
  return {
    sysctls,
    links: await linkNames(),
    iptables: await iptablesSave('iptables-save'),
    ip6tables: await iptablesSave('ip6tables-save'),
    mounts: await mountPoints(),
    netns: existsSync('/run/netns') ? (await readdir('/run/netns')).sort() : [],
    paths: Object.fromEntries(watchedPaths.map((path) => [path, existsSync(path)])),
  };
}

/** Human-readable differences between two snapshots; empty when the host is as it was. */
export function diffHost(before: HostSnapshot, after: HostSnapshot): string[] {
  const differences: string[] = [];
  for (const name of watchedSysctls) {
    if (before.sysctls[name] !== after.sysctls[name]) {
      differences.push(`sysctl ${name}: ${before.sysctls[name]} → ${after.sysctls[name]}`);
    }
  }
  const listDiff = (what: string, a: string[], b: string[]) => {
    for (const item of b.filter((x) => !a.includes(x))) differences.push(`${what} added: ${item}`);
    for (const item of a.filter((x) => !b.includes(x))) differences.push(`${what} removed: ${item}`);
  };
  listDiff('link', before.links, after.links);
  listDiff('mount', before.mounts, after.mounts);
  listDiff('netns', before.netns, after.netns);
  const lines = (text: string) => text.split('\n').filter(Boolean);
  listDiff('iptables line', lines(before.iptables), lines(after.iptables));
  listDiff('ip6tables line', lines(before.ip6tables), lines(after.ip6tables));
  for (const path of watchedPaths) {
    if (before.paths[path] !== after.paths[path]) {
      differences.push(
        `${path}: ${before.paths[path] ? 'existed' : 'absent'} → ${after.paths[path] ? 'exists' : 'absent'}`,
      );
    }
  }
  return differences;
}
