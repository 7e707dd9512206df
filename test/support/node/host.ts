import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, readlink, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { processAlive } from '../controlplane-process.ts';
import { run } from './exec.ts';
import {
  type HostSnapshot,
  mountPoints,
  readSysctl,
  snapshotHost,
  watchedPaths,
  writeSysctl,
} from './host-state.ts';
import type { ClusterNetwork } from './network.ts';

// The real node's footprint on the host, set up before anything starts and taken down by
// teardownHost(), which the harness runs on stop and the janitor runs when the harness died
// without stopping (SIGKILL). Everything teardownHost() needs is in `<dir>/state.json`.

/** Names the real node uses on the host. One real node per machine at a time (see the lock). */
export const bridgeName = 'kinfer-br0';
export const cgroupRoot = 'kinfer-node';
export const guardChains = { in: 'KINFER-GUARD-IN', out: 'KINFER-GUARD-OUT' } as const;

export interface NodeHostState {
  dir: string;
  network: ClusterNetwork;
  before: HostSnapshot;
  /** Raw table names `iptables-save`/`ip6tables-save` listed before (to drop tables we created). */
  tablesBefore: { v4: string[]; v6: string[] };
  /** Interfaces whose traffic to or from the cluster's ranges is dropped. */
  externalInterfaces: string[];
  /** Long-running processes to kill on teardown: pid and a string its command line must contain. */
  processes: { name: string; pid: number; marker: string }[];
  /** The containerd socket: shims whose command line names it are ours. */
  containerdAddress: string;
}

export function statePath(dir: string): string {
  return join(dir, 'state.json');
}

export async function saveState(state: NodeHostState): Promise<void> {
  await writeFile(statePath(state.dir), `${JSON.stringify(state, null, 2)}\n`);
}

export async function loadState(dir: string): Promise<NodeHostState | undefined> {
  return readFile(statePath(dir), 'utf8').then(
    (text) => JSON.parse(text) as NodeHostState,
    () => undefined,
  );
}

async function tableNames(command: string): Promise<string[]> {
  const dump = await run(command, []).catch(() => '');
  return [...dump.matchAll(/^\*(\w+)$/gm)].map((match) => match[1] as string);
}

/** Interfaces that carry the default route: the way off this machine. */
async function defaultRouteInterfaces(): Promise<string[]> {
  const routes = JSON.parse(await run('ip', ['-j', 'route', 'show', 'default'])) as { dev?: string }[];
  const routes6 = JSON.parse(await run('ip', ['-j', '-6', 'route', 'show', 'default']).catch(() => '[]')) as {
    dev?: string;
  }[];
  return [
    ...new Set([...routes, ...routes6].map((route) => route.dev).filter((dev): dev is string => !!dev)),
  ];
}

/** v1 hierarchies (and the v2 one of a hybrid layout) under /sys/fs/cgroup. */
async function cgroupHierarchies(): Promise<string[]> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  return mounts
    .split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => fields[fields.indexOf('-') + 1]?.startsWith('cgroup'))
    .map((fields) => fields[4] as string)
    .filter((path) => path.startsWith('/sys/fs/cgroup'));
}

/**
 * Records the host as it is, then: the CNI bridge carrying the node IP (portless until pods
 * come), the isolation guard, IPv4 forwarding and bridge netfilter on, and the cgroup the kubelet
 * puts pods under. The caller saves the returned state before starting anything.
 */
export async function prepareHost(dir: string, network: ClusterNetwork): Promise<NodeHostState> {
  const before = await snapshotHost();
  const state: NodeHostState = {
    dir,
    network,
    before,
    tablesBefore: { v4: await tableNames('iptables-save'), v6: await tableNames('ip6tables-save') },
    externalInterfaces: (await defaultRouteInterfaces()).filter((name) => name !== bridgeName),
    processes: [],
    containerdAddress: join(dir, 'containerd', 'containerd.sock'),
  };
  // The host must be free of another node's traces before anything is recorded: teardown undoes
  // what the state says this node made, and must never take down what was there before.
  const traces = [
    ...(before.links.includes(bridgeName) ? [`interface ${bridgeName} (ip link del ${bridgeName})`] : []),
    ...(/KUBE-|KINFER-/.test(`${before.iptables}\n${before.ip6tables}`)
      ? ['KUBE-*/KINFER-* iptables chains']
      : []),
    ...((await cgroupHierarchies()).some((hierarchy) => existsSync(join(hierarchy, cgroupRoot)))
      ? [`the ${cgroupRoot} cgroup`]
      : []),
  ];
  if (traces.length > 0) {
    throw new Error(
      `the host has another real node's ${traces.join(', ')}: one runs without the lock, or one was left behind`,
    );
  }
  await saveState(state);
  await run('ip', ['link', 'add', bridgeName, 'type', 'bridge']);
  await run('ip', [
    'addr',
    'add',
    `${network.nodeIp}/${network.nodePodSubnet.split('/')[1]}`,
    'dev',
    bridgeName,
  ]);
  await run('ip', ['link', 'set', bridgeName, 'up']);
  await installGuard(state);
  await writeSysctl('net/ipv4/ip_forward', '1');
  // Pod → Service → pod on the same bridge: the reply is bridged, and only bridge netfilter lets
  // conntrack undo the Service's DNAT on it.
  if ((await readSysctl('net/bridge/bridge-nf-call-iptables')) !== null) {
    await writeSysctl('net/bridge/bridge-nf-call-iptables', '1');
  }
  for (const hierarchy of await cgroupHierarchies()) {
    const path = join(hierarchy, cgroupRoot);
    await mkdir(path, { recursive: true });
    // A new cpuset cgroup starts with no CPUs and no memory nodes; nothing could join it.
    if (existsSync(join(hierarchy, 'cpuset.cpus'))) {
      for (const file of ['cpuset.cpus', 'cpuset.mems']) {
        await writeFile(join(path, file), await readFile(join(hierarchy, file), 'utf8'));
      }
    }
  }
  return state;
}

/**
 * Drops everything from or to the cluster's ranges on the external interfaces, in the mangle
 * table's PREROUTING/POSTROUTING: before any ACCEPT that kube-proxy puts in filter, before any
 * NAT, for forwarded and locally sent packets alike. Nothing masquerades cluster traffic, so
 * this is a second wall, not the only one.
 */
async function installGuard(state: NodeHostState): Promise<void> {
  const cidrs = [state.network.podCidr, state.network.serviceCidr];
  const rules = [
    '*mangle',
    `:${guardChains.in} - [0:0]`,
    `:${guardChains.out} - [0:0]`,
    `-I PREROUTING 1 -j ${guardChains.in}`,
    `-I POSTROUTING 1 -j ${guardChains.out}`,
  ];
  for (const dev of state.externalInterfaces) {
    for (const cidr of cidrs) {
      rules.push(`-A ${guardChains.in} -i ${dev} -s ${cidr} -j DROP`);
      rules.push(`-A ${guardChains.in} -i ${dev} -d ${cidr} -j DROP`);
      rules.push(`-A ${guardChains.out} -o ${dev} -s ${cidr} -j DROP`);
      rules.push(`-A ${guardChains.out} -o ${dev} -d ${cidr} -j DROP`);
    }
  }
  rules.push('COMMIT', '');
  await run('iptables-restore', ['--noflush'], { input: rules.join('\n') });
}

async function cmdline(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
}

async function killAndWait(pids: number[], timeoutMs = 10_000): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (pids.some(processAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

/** Every process in the node's cgroups (containers, shims placed there), depth first. */
async function cgroupProcesses(): Promise<number[]> {
  const pids = new Set<number>();
  const walk = async (path: string): Promise<void> => {
    const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) if (entry.isDirectory()) await walk(join(path, entry.name));
    const procs = await readFile(join(path, 'cgroup.procs'), 'utf8').catch(() => '');
    for (const pid of procs.split('\n').filter(Boolean)) pids.add(Number(pid));
  };
  for (const hierarchy of await cgroupHierarchies()) await walk(join(hierarchy, cgroupRoot));
  return [...pids];
}

async function removeCgroups(): Promise<void> {
  const walk = async (path: string): Promise<void> => {
    const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) if (entry.isDirectory()) await walk(join(path, entry.name));
    await rmdir(path).catch(() => {});
  };
  for (const hierarchy of await cgroupHierarchies()) await walk(join(hierarchy, cgroupRoot));
}

/** Our shims: containerd-shim-runc-v2 processes started for our containerd's socket. */
async function shimProcesses(address: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const line = await cmdline(Number(entry));
    if (line.includes('containerd-shim') && line.includes(address)) pids.push(Number(entry));
  }
  return pids;
}

/** `iptables-save` minus our guard and every KUBE-* chain and the rules that jump to them. */
export function withoutClusterRules(dump: string): string {
  const ours = /^:?(?:-A |-I )?(KUBE-|KINFER-)/;
  return dump
    .split('\n')
    .filter((line) => {
      if (line.startsWith(':') || line.startsWith('-A ')) {
        if (ours.test(line.replace(/^-A /, ''))) return false;
        if (/ -[jg] (KUBE-|KINFER-)/.test(line)) return false;
      }
      return true;
    })
    .join('\n');
}

async function restoreIptables(family: 'v4' | 'v6', tablesBefore: string[]): Promise<string[]> {
  const [save, restore, nftFamily] =
    family === 'v4'
      ? ['iptables-save', 'iptables-restore', 'ip']
      : ['ip6tables-save', 'ip6tables-restore', 'ip6'];
  const errors: string[] = [];
  const dump = await run(save, []).catch(() => '');
  if (/(KUBE-|KINFER-)/.test(dump)) {
    await run(restore, [], { input: withoutClusterRules(dump) }).catch((error: Error) =>
      errors.push(error.message),
    );
  }
  // Tables that only exist because the cluster used them: with the nf_tables backend they stay
  // (empty) after the rules go; `nft` removes them when it is installed.
  const now = await tableNames(save);
  for (const table of now.filter((name) => !tablesBefore.includes(name))) {
    await run('nft', ['delete', 'table', nftFamily, table]).catch(() => {});
  }
  return errors;
}

/** Unmounts everything under `dir`, and network namespaces that appeared in /run/netns. */
async function unmountAll(state: NodeHostState): Promise<string[]> {
  const errors: string[] = [];
  const netnsBefore = new Set(state.before.netns);
  const ours = (path: string) =>
    path.startsWith(`${state.dir}/`) ||
    (/^\/(var\/)?run\/netns\/[^/]+$/.test(path) && !netnsBefore.has(path.split('/').pop() ?? ''));
  for (let attempt = 0; attempt < 5; attempt++) {
    const mounts = (await mountPoints()).filter(ours).reverse();
    if (mounts.length === 0) break;
    for (const mount of mounts) {
      await run('umount', ['-l', mount]).catch((error: Error) => {
        if (attempt === 4) errors.push(error.message);
      });
    }
  }
  const entries = await readdir('/run/netns').catch(() => [] as string[]);
  for (const entry of entries.filter((name) => !netnsBefore.has(name) && name.startsWith('cni-'))) {
    await rm(join('/run/netns', entry), { force: true }).catch(() => {});
  }
  return errors;
}

/**
 * Puts the host back as `state.before` recorded it: kills the node's processes and containers,
 * unmounts, deletes the bridge (the pods' veths went with their namespaces), removes the guard
 * and kube-proxy's chains, restores sysctls, removes the cgroups, the CNI cache and `dir`.
 * Idempotent and best effort: it goes on after an error and returns every error it met.
 */
export async function teardownHost(state: NodeHostState): Promise<string[]> {
  const errors: string[] = [];
  // Components first (the kubelet would restart containers), then containers, shims, containerd.
  const components = [];
  for (const proc of state.processes) {
    if (processAlive(proc.pid) && (await cmdline(proc.pid)).includes(proc.marker)) components.push(proc);
  }
  const nodeAgents = components.filter((proc) => proc.name !== 'containerd').map((proc) => proc.pid);
  await killAndWait(nodeAgents);
  for (let round = 0; round < 5; round++) {
    const pids = await cgroupProcesses();
    if (pids.length === 0) break;
    await killAndWait(pids, 5_000);
  }
  await killAndWait(await shimProcesses(state.containerdAddress));
  await killAndWait(components.filter((proc) => proc.name === 'containerd').map((proc) => proc.pid));

  errors.push(...(await unmountAll(state)));
  if ((await readdir('/sys/class/net')).includes(bridgeName)) {
    await run('ip', ['link', 'del', bridgeName]).catch((error: Error) => errors.push(error.message));
  }
  errors.push(...(await restoreIptables('v4', state.tablesBefore.v4)));
  errors.push(...(await restoreIptables('v6', state.tablesBefore.v6)));
  for (const [name, value] of Object.entries(state.before.sysctls)) {
    if (value !== null && (await readSysctl(name)) !== value) {
      await writeSysctl(name, value).catch((error: Error) => errors.push(`sysctl ${name}: ${error.message}`));
    }
  }
  await removeCgroups();
  const mounted = await mountPoints();
  for (const path of watchedPaths) {
    // A state written before paths were recorded: unknown, so left as it is.
    const existed = state.before.paths?.[path] ?? true;
    if (existed || mounted.some((mount) => mount.startsWith(`${path}/`))) continue;
    await rm(path, { recursive: true, force: true }).catch((error: Error) =>
      errors.push(`${path}: ${error.message}`),
    );
  }
  if (state.before.paths?.['/var/lib/cni']) {
    const results = '/var/lib/cni/results';
    for (const entry of await readdir(results).catch(() => [] as string[])) {
      if (entry.startsWith('kinfer-')) await rm(join(results, entry), { force: true });
    }
  }
  if (state.before.paths?.['/var/log/containers']) {
    for (const entry of await readdir('/var/log/containers').catch(() => [] as string[])) {
      const target = await readlink(join('/var/log/containers', entry)).catch(() => '');
      if (target.startsWith(`${state.dir}/`)) await rm(join('/var/log/containers', entry), { force: true });
    }
  }
  const remaining = (await mountPoints()).filter((path) => path.startsWith(`${state.dir}/`));
  if (remaining.length === 0) {
    await rm(state.dir, { recursive: true, force: true });
  } else {
    errors.push(`kept ${state.dir}: still mounted under it: ${remaining.join(', ')}`);
  }
  return errors;
}
