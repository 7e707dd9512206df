import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ControlPlaneCerts, createClientCert, writeKubeconfig } from '../certs.ts';
import { type KubeConnection, kubeRequest, pollUntil, serverSideApply } from '../controlplane-http.ts';
import { ManagedProcess, processAlive } from '../controlplane-process.ts';
import { corednsNamespace, corednsObjects } from './coredns.ts';
import { run } from './exec.ts';
import {
  bridgeName,
  cgroupRoot,
  loadState,
  type NodeHostState,
  prepareHost,
  saveState,
  teardownHost,
} from './host.ts';
import { ensureBinaryImage } from './images.ts';
import type { ClusterNetwork } from './network.ts';

// The test cluster's real node: containerd (its own root, state and socket under the node's
// directory), runc, the CNI bridge with host-local IPAM, the kubelet, kube-proxy (iptables) and
// CoreDNS, beside the control plane and its kwok nodes. One per machine at a time: the bridge,
// kube-proxy's chains and the cgroup are host-wide names.

export const realNodeLabel = { key: 'kinfer.dev/node', value: 'real' } as const;
export const defaultNodeName = 'kinfer-real-node';

/** What tests need to put pods on the real node and to reach them. */
export interface RealNodeInfo {
  name: string;
  /** The node IP (on the CNI bridge); the apiserver listens there too. */
  ip: string;
  network: ClusterNetwork;
  /** Pods get onto the real node with this nodeSelector (kwok nodes are tainted in this cluster). */
  nodeSelector: Record<string, string>;
  /** The node's directory: containerd, kubelet, CNI state and logs (`logs/`). */
  dir: string;
  images: { pause: string; coredns: string; imported: string[] };
  /** Milliseconds from containerd's start to CoreDNS Available. */
  startupMs: number;
}

/** Machine-wide, whatever TMPDIR a process has (the bridge, chains and cgroup are machine-wide). */
export const lockPath = (): string => '/run/kinfer-real-node.lock';
const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

interface LockContent {
  pid: number;
  janitorPid?: number;
  dir: string;
}

/** The lock's owner; undefined when there is no lock or it holds no owner (e.g. an empty file left by `flock`). */
async function readLock(): Promise<LockContent | undefined> {
  const text = await readFile(lockPath(), 'utf8').catch(() => '');
  try {
    return JSON.parse(text) as LockContent;
  } catch {
    return undefined;
  }
}

/** Takes the machine-wide lock; a stale one (owner dead) is cleaned up first. */
async function acquireLock(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(lockPath(), JSON.stringify({ pid: process.pid, dir } satisfies LockContent), {
        flag: 'wx',
      });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await readLock();
    if (holder && processAlive(holder.pid)) {
      throw new Error(
        `a real node already runs on this machine (pid ${holder.pid}, ${holder.dir}); one at a time: stop it first`,
      );
    }
    // Its owner died. Its janitor is cleaning up or has died too; in that case clean up here.
    await pollUntil(
      'the janitor of a dead real node to finish',
      async () => (processAlive(holder?.janitorPid) ? undefined : true),
      {
        timeoutMs: 120_000,
        intervalMs: 200,
      },
    );
    const state = holder ? await loadState(holder.dir) : undefined;
    if (state) await teardownHost(state);
    await rm(lockPath(), { force: true });
  }
  throw new Error(`cannot take ${lockPath()}`);
}

/**
 * Nodes left behind by processes that died with their janitor (a machine whose processes were all
 * killed at once, e.g. at the end of a session): their directory still holds state.json with the
 * host as it was before them, so teardownHost can put it back. Runs with the lock held, and not at
 * all while a lock (this one, or the TMPDIR one older harnesses used) names a live process.
 */
async function recoverLeftNodes(ownDir: string, log: (line: string) => void): Promise<void> {
  const locks: LockContent[] = [];
  for (const path of new Set([
    lockPath(),
    join(tmpdir(), 'kinfer-real-node.lock'),
    '/tmp/kinfer-real-node.lock',
  ])) {
    const text = await readFile(path, 'utf8').catch(() => '');
    if (text) locks.push(JSON.parse(text) as LockContent);
  }
  // The bridge, the chains and the cgroup are shared names: while any node lives, tearing down a
  // dead one would take the live one's down too. prepareHost then refuses the host instead.
  const live = (lock: LockContent) => processAlive(lock.pid) || processAlive(lock.janitorPid);
  if (locks.some((lock) => lock.dir !== ownDir && live(lock))) return;
  for (const base of new Set([tmpdir(), '/tmp'])) {
    for (const entry of await readdir(base).catch(() => [] as string[])) {
      const dir = join(base, entry);
      if (!entry.startsWith('kinfer-node-') || dir === ownDir || entry.endsWith('.log')) continue;
      const state = await loadState(dir);
      if (!state) continue;
      const errors = await teardownHost(state);
      log(
        `restored the host from a node left behind in ${dir}${errors.length ? `: ${errors.join('; ')}` : ''}`,
      );
    }
  }
}

/**
 * The janitor: a detached process that tears the node down if this process dies without doing
 * it (SIGKILL, a crash). The harness's own stop tears down first and then ends the janitor.
 */
function startJanitor(dir: string): number {
  const log = openSync(`${dir}.janitor.log`, 'a');
  try {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(repoRoot, 'test/support/node/janitor.ts'),
        dir,
        String(process.pid),
        lockPath(),
      ],
      { cwd: repoRoot, detached: true, stdio: ['ignore', log, log] },
    );
    child.unref();
    if (!child.pid) throw new Error('cannot start the real node janitor');
    return child.pid;
  } finally {
    closeSync(log);
  }
}

export interface RealNodeHost {
  state: NodeHostState;
  /** Tears the host down (see teardownHost), stops the janitor, releases the lock. */
  release(): Promise<string[]>;
}

/** Lock, directory, janitor and the host's network set up for `network`; nothing runs yet. */
export async function acquireRealNodeHost(
  network: ClusterNetwork,
  log: (line: string) => void = () => {},
): Promise<RealNodeHost> {
  const dir = await mkdtemp(join(tmpdir(), 'kinfer-node-'));
  await acquireLock(dir).catch(async (error) => {
    await rm(dir, { recursive: true, force: true });
    throw error;
  });
  await recoverLeftNodes(dir, log);
  const janitorPid = startJanitor(dir);
  await writeFile(lockPath(), JSON.stringify({ pid: process.pid, janitorPid, dir } satisfies LockContent));
  let state: NodeHostState | undefined;
  const release = async (): Promise<string[]> => {
    const current = (await loadState(dir)) ?? state;
    // No state: the host was never touched (prepareHost refused it); only the directory goes.
    const errors = current ? await teardownHost(current) : [];
    if (!current) await rm(dir, { recursive: true, force: true });
    try {
      process.kill(janitorPid, 'SIGTERM');
    } catch {
      // Already gone.
    }
    if (errors.length === 0) await rm(`${dir}.janitor.log`, { force: true });
    const holder = await readLock();
    if (holder?.dir === dir) await rm(lockPath(), { force: true });
    return errors;
  };
  try {
    state = await prepareHost(dir, network);
    return { state, release };
  } catch (error) {
    await release();
    throw error;
  }
}

export interface StartRealNodeOptions {
  host: RealNodeHost;
  connection: KubeConnection;
  server: string;
  certs: ControlPlaneCerts;
  /** The build directory holding kcp's kubelet/kube-proxy symlinks, coredns and pause. */
  binDir: string;
  nodeName?: string;
  /** docker-archive tarballs to import into containerd besides pause and CoreDNS. */
  images?: string[];
  freePorts: (count: number) => Promise<number[]>;
  log: (line: string) => void;
}

export interface RealNode {
  info: RealNodeInfo;
  pids(): Record<string, number>;
  /** Stops the kubelet, kube-proxy, the pods and containerd (the host is released separately). */
  stop(): Promise<void>;
}

const stopGraceMs = { kubelet: 5_000, 'kube-proxy': 2_000, containerd: 5_000 } as const;

export async function startRealNode(options: StartRealNodeOptions): Promise<RealNode> {
  const started = Date.now();
  const { state } = options.host;
  const { dir, network } = state;
  const name = options.nodeName ?? defaultNodeName;
  const step = (what: string) => options.log(`real node: ${what} (+${Date.now() - started} ms)`);
  const paths = {
    logs: join(dir, 'logs'),
    containerd: join(dir, 'containerd'),
    cniConf: join(dir, 'cni', 'net.d'),
    cniIpam: join(dir, 'cni', 'ipam'),
    kubelet: join(dir, 'kubelet'),
    podLogs: join(dir, 'pod-logs'),
    volumePlugins: join(dir, 'volume-plugins'),
    certs: join(dir, 'certs'),
  };
  for (const path of Object.values(paths)) await mkdir(path, { recursive: true });
  const processes = new Map<string, ManagedProcess>();
  const launch = async (component: string, command: string, args: string[], marker: string) => {
    const proc = new ManagedProcess(component, command, args, join(paths.logs, `${component}.log`));
    processes.set(component, proc);
    if (proc.pid) {
      state.processes.push({ name: component, pid: proc.pid, marker });
      await saveState(state);
    }
    return proc;
  };
  const stop = async () => {
    for (const component of ['kubelet', 'kube-proxy'] as const)
      await processes.get(component)?.stop(stopGraceMs[component]);
    // Pods are not drained one by one: teardownHost kills what is left in the node's cgroups.
    await processes.get('containerd')?.stop(stopGraceMs.containerd);
  };
  const failIfExited = (): Promise<never> =>
    new Promise<never>((_, reject) => {
      for (const proc of processes.values()) {
        void proc.exited.then((code) => {
          if (!proc.stopping)
            reject(new Error(`${proc.name} exited (code ${code}) during start-up:\n${proc.tail()}`));
        });
      }
    });
  const ready = async <T>(
    what: string,
    check: () => Promise<T | undefined>,
    timeoutMs = 120_000,
  ): Promise<T> => {
    const watcher = failIfExited();
    watcher.catch(() => {});
    // The poll stops as soon as the race is decided, either way.
    const abort = new AbortController();
    const poll = pollUntil(what, check, { timeoutMs, intervalMs: 200, signal: abort.signal });
    poll.catch(() => {});
    try {
      const result = await Promise.race([poll, watcher]);
      step(`${what}: ready`);
      return result;
    } finally {
      abort.abort();
    }
  };

  try {
    const [pause, coredns] = await Promise.all([
      ensureBinaryImage('pause', join(options.binDir, 'pause'), '65535:65535'),
      ensureBinaryImage('coredns', join(options.binDir, 'coredns'), '0:0'),
    ]);
    step('pause and CoreDNS images ready');

    // containerd: everything under the node's directory, CRI on, runc with cgroupfs.
    const address = state.containerdAddress;
    const containerdConfig = join(paths.containerd, 'config.toml');
    await writeFile(
      containerdConfig,
      containerdToml({ dir: paths.containerd, address, pauseImage: pause.ref, cniConf: paths.cniConf }),
    );
    await launch('containerd', 'containerd', ['--config', containerdConfig], containerdConfig);
    const ctr = (args: string[], timeoutMs = 300_000) =>
      run('ctr', ['--address', address, '--namespace', 'k8s.io', ...args], { timeoutMs });
    await ready(
      'containerd',
      async () =>
        await ctr(['version'], 5_000).then(
          () => true,
          () => undefined,
        ),
    );
    const archives = [pause.archive, coredns.archive, ...(options.images ?? [])];
    const imported: string[] = [];
    for (const archive of archives) {
      const output = await ctr(['images', 'import', '--no-unpack=false', archive]);
      imported.push(...[...output.matchAll(/^unpacking (\S+)/gm)].map((match) => match[1] as string));
    }
    step(`images imported: ${imported.join(', ')}`);

    await writeFile(
      join(paths.cniConf, '10-kinfer.conflist'),
      `${JSON.stringify(cniConfig(network, paths.cniIpam), null, 2)}\n`,
    );

    const [kubeletPort, kubeletHealthz, proxyHealthz, proxyMetrics] = await options.freePorts(4);
    const kubeletCert = await createClientCert(
      paths.certs,
      'kubelet',
      `/O=system:nodes/CN=system:node:${name}`,
      options.certs,
    );
    const proxyCert = await createClientCert(
      paths.certs,
      'kube-proxy',
      '/CN=system:kube-proxy',
      options.certs,
    );
    const kubeletKubeconfig = join(paths.kubelet, 'kubeconfig');
    const proxyKubeconfig = join(dir, 'kube-proxy.kubeconfig');
    await writeKubeconfig(kubeletKubeconfig, options.server, {
      caCert: options.certs.caCert,
      adminCert: kubeletCert.cert,
      adminKey: kubeletCert.key,
    });
    await writeKubeconfig(proxyKubeconfig, options.server, {
      caCert: options.certs.caCert,
      adminCert: proxyCert.cert,
      adminKey: proxyCert.key,
    });
    const kubeletConfig = join(paths.kubelet, 'config.json');
    await writeFile(
      kubeletConfig,
      JSON.stringify(
        kubeletConfiguration({
          network,
          caCert: options.certs.caCert,
          port: kubeletPort as number,
          healthzPort: kubeletHealthz as number,
          containerdAddress: address,
          podLogs: paths.podLogs,
          volumePlugins: paths.volumePlugins,
        }),
        null,
        2,
      ),
    );
    const kubelet = join(options.binDir, 'kubelet');
    await launch(
      'kubelet',
      kubelet,
      [
        `--config=${kubeletConfig}`,
        `--kubeconfig=${kubeletKubeconfig}`,
        `--root-dir=${paths.kubelet}`,
        `--hostname-override=${name}`,
        `--node-ip=${network.nodeIp}`,
        `--node-labels=${realNodeLabel.key}=${realNodeLabel.value}`,
        '--v=1',
      ],
      kubeletConfig,
    );
    const proxyConfig = join(dir, 'kube-proxy.json');
    await writeFile(
      proxyConfig,
      JSON.stringify(
        {
          apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
          kind: 'KubeProxyConfiguration',
          clientConnection: { kubeconfig: proxyKubeconfig },
          hostnameOverride: name,
          bindAddress: network.nodeIp,
          healthzBindAddress: `127.0.0.1:${proxyHealthz}`,
          metricsBindAddress: `127.0.0.1:${proxyMetrics}`,
          mode: 'iptables',
          clusterCIDR: network.podCidr,
          // NodePorts only on the node IP, never on the machine's own interfaces.
          nodePortAddresses: [network.nodePodSubnet],
          // 0: leave the host's conntrack table size and timeouts alone.
          conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
          // No route_localnet sysctl: NodePorts on 127.0.0.1 are not needed.
          iptables: {
            localhostNodePorts: false,
            masqueradeAll: false,
            syncPeriod: '30s',
            minSyncPeriod: '1s',
          },
          oomScoreAdj: 0,
        },
        null,
        2,
      ),
    );
    await launch(
      'kube-proxy',
      join(options.binDir, 'kube-proxy'),
      [`--config=${proxyConfig}`, '--v=1'],
      proxyConfig,
    );

    const nodePath = `/api/v1/nodes/${name}`;
    await ready(`node ${name} Ready`, async () => {
      const response = await kubeRequest(options.connection, 'GET', nodePath);
      if (response.status !== 200) return undefined;
      const node = JSON.parse(response.body) as {
        status?: { conditions?: { type: string; status: string }[] };
      };
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
        ? true
        : undefined;
    });

    const nodeSelector = { [realNodeLabel.key]: realNodeLabel.value };
    for (const [path, object] of corednsObjects({
      image: coredns.ref,
      dnsServiceIp: network.dnsServiceIp,
      nodeSelector,
    })) {
      await serverSideApply(options.connection, path, object);
    }
    await ready('CoreDNS Available', async () => {
      const response = await kubeRequest(
        options.connection,
        'GET',
        `/apis/apps/v1/namespaces/${corednsNamespace}/deployments/coredns`,
      );
      const deployment = JSON.parse(response.body) as { status?: { availableReplicas?: number } };
      return (deployment.status?.availableReplicas ?? 0) >= 1 ? true : undefined;
    });

    return {
      info: {
        name,
        ip: network.nodeIp,
        network,
        nodeSelector,
        dir,
        images: { pause: pause.ref, coredns: coredns.ref, imported },
        startupMs: Date.now() - started,
      },
      pids: () =>
        Object.fromEntries(
          [...processes].filter(([, p]) => p.running && p.pid).map(([n, p]) => [n, p.pid as number]),
        ),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function containerdToml(options: {
  dir: string;
  address: string;
  pauseImage: string;
  cniConf: string;
}): string {
  const q = (value: string) => JSON.stringify(value);
  return `version = 2
root = ${q(join(options.dir, 'root'))}
state = ${q(join(options.dir, 'state'))}
oom_score = 0
# Plugins that would touch paths outside the node's directory or are of no use here.
disabled_plugins = [
  "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = ${q(options.address)}

[ttrpc]
  address = ""

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${q(options.pauseImage)}
  # This machine lacks CAP_SYS_RESOURCE: never ask for an OOM score below containerd's own.
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "runc"
        Root = ${q(join(options.dir, 'runc'))}
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = ${q(options.cniConf)}
    max_conf_num = 1
`;
}

function cniConfig(network: ClusterNetwork, ipamDir: string): object {
  const [subnetIp] = network.nodePodSubnet.split('/');
  return {
    cniVersion: '0.4.0',
    name: 'kinfer-pods',
    plugins: [
      {
        type: 'bridge',
        bridge: bridgeName,
        isGateway: true,
        // Nothing masquerades pod traffic: it has nowhere to go but this machine.
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          dataDir: ipamDir,
          ranges: [
            [
              {
                subnet: network.nodePodSubnet,
                gateway: network.nodeIp,
                rangeStart: subnetIp?.replace(/\.0$/, '.10'),
              },
            ],
          ],
          routes: [{ dst: '0.0.0.0/0' }],
        },
      },
    ],
  };
}

function kubeletConfiguration(options: {
  network: ClusterNetwork;
  caCert: string;
  port: number;
  healthzPort: number;
  containerdAddress: string;
  podLogs: string;
  volumePlugins: string;
}): object {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: options.network.nodeIp,
    port: options.port,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: options.healthzPort,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: options.caCert },
    },
    authorization: { mode: 'Webhook' },
    containerRuntimeEndpoint: `unix://${options.containerdAddress}`,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: `/${cgroupRoot}`,
    cgroupsPerQOS: true,
    enforceNodeAllocatable: ['pods'],
    // This machine has a hybrid cgroup v1 layout and swap may be on.
    failCgroupV1: false,
    failSwapOn: false,
    clusterDNS: [options.network.dnsServiceIp],
    clusterDomain: 'cluster.local',
    // Pods get no host search domains or resolvers: only the cluster DNS.
    resolvConf: '',
    // Images are imported, never pulled: garbage collection must never delete one.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: {
      'memory.available': '100Mi',
      'nodefs.available': '1%',
      'imagefs.available': '1%',
      'nodefs.inodesFree': '1%',
    },
    podLogsDir: options.podLogs,
    volumePluginDir: options.volumePlugins,
    serializeImagePulls: false,
    oomScoreAdj: 0,
    maxPods: 110,
    // The node's own tmpfs-backed volumes stay inside root-dir; no swap accounting.
    memorySwap: {},
  };
}
