import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createControlPlaneCerts, writeKubeconfig } from './certs.ts';
import { type ComponentName, componentNames, ensureControlPlaneBinary } from './controlplane-build.ts';
import { type KubeConnection, kubeRequest, kubeRequestOk, pollUntil, sleep } from './controlplane-http.ts';
import {
  installExitHooks,
  ManagedProcess,
  processAlive,
  registerTempDir,
  releaseTempDir,
} from './controlplane-process.ts';
import { fakeNode, fakeNodeAnnotation, installCrdsDirect } from './controlplane-resources.ts';
import { type ClusterNetwork, type ClusterNetworkOptions, clusterNetwork } from './node/network.ts';
import {
  acquireRealNodeHost,
  type RealNode,
  type RealNodeHost,
  type RealNodeInfo,
  startRealNode,
} from './node/real-node.ts';

export { crdFiles, fakeNodeAnnotation, installCrds, installCrdsDirect } from './controlplane-resources.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface ControlPlaneOptions {
  /** Fake Nodes kwok runs pods on (default 3), each with 32 CPU, 256Gi memory, 110 pods. */
  nodes?: number;
  /** Directory of CRD YAML to install and wait for; default `<repo>/crds` when it exists; null: none. */
  crdsDir?: string | null;
  /** Progress lines (start-up steps and their timings). */
  log?: (line: string) => void;
  /** Called when the binary is missing and a (slow, cold) build starts. */
  onBuildStart?: (logPath: string) => void;
  /** Pod and Service CIDRs (defaults 198.18.0.0/16 and 198.19.0.0/16; private ranges are refused). */
  network?: ClusterNetworkOptions;
  /**
   * A real node besides the kwok ones (containerd, kubelet, kube-proxy, CoreDNS; see
   * node/real-node.ts): the apiserver then listens on the node IP, which pods reach, and the
   * kwok nodes are tainted so that only pods that tolerate it land there.
   */
  realNode?: boolean | { images?: string[]; nodeName?: string };
  /**
   * kube-controller-manager's client budget (--kube-api-qps / --kube-api-burst), default its own
   * 20 / 30. Each of its controllers builds its own client, so each gets this budget for itself.
   */
  controllerManagerApi?: { qps: number; burst: number };
}

export interface ControlPlane {
  /** Kubeconfig with embedded admin (system:masters) client certificate. */
  kubeconfigPath: string;
  /** The apiserver URL, https://127.0.0.1:<port> (with a real node: https://<node IP>:<port>). */
  server: string;
  /** The cluster's addresses (pod and Service CIDRs, DNS and `kubernetes` Service IPs). */
  network: ClusterNetwork;
  /** The real node, when one was asked for. */
  realNode?: RealNodeInfo;
  connection: KubeConnection;
  /** Temp directory holding certs, etcd data, kubeconfig and `logs/<component>.log`. */
  dir: string;
  /** Milliseconds from the start call to everything ready. */
  startupMs: number;
  /** Process ids by component, for measurements (RSS) and debugging. */
  pids(): Partial<Record<ComponentName | 'kubelet' | 'kube-proxy' | 'containerd', number>>;
  /** A component's Prometheus metrics, read as the admin user (the controller manager's and scheduler's ports need a client certificate). */
  metrics(component: 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler'): Promise<string>;
  /** Stops the apiserver (SIGTERM) and starts it again on the same port and etcd; resolves when ready. */
  restartApiServer(): Promise<void>;
  /**
   * Stops every component (the real node, kwok, scheduler, controller manager, apiserver, etcd),
   * removes the temp dir and puts back what the real node changed on the host.
   */
  stop(): Promise<void>;
}

// kube-apiserver 1.33 drains and stops listening within ~50 ms of SIGTERM but then often lingers
// for seconds; everything it stores is already in etcd, so it gets a short grace before SIGKILL.
const stopGraceMs: Record<ComponentName, number> = {
  kwok: 2_000,
  'kube-scheduler': 2_000,
  'kube-controller-manager': 2_000,
  'kube-apiserver': 1_000,
  etcd: 5_000,
};

export class ControlPlaneStartError extends Error {
  readonly code = 'controlplane_start_failed';
}

/** Where each component's executable comes from: KUBEBUILDER_ASSETS when it has it, else kcp. */
async function resolveExecutables(options: ControlPlaneOptions): Promise<Record<ComponentName, string>> {
  const found: Partial<Record<ComponentName, string>> = {};
  const assets = process.env.KUBEBUILDER_ASSETS;
  if (assets) {
    for (const name of componentNames) {
      const candidate = join(assets, name);
      try {
        await access(candidate, constants.X_OK);
        found[name] = candidate;
      } catch {
        // Not provided there (setup-envtest ships only etcd, kube-apiserver and kubectl).
      }
    }
  }
  const missing = componentNames.filter((name) => !found[name]);
  if (missing.length > 0) {
    const build = await ensureControlPlaneBinary(
      options.onBuildStart ? { onBuildStart: options.onBuildStart } : {},
    );
    for (const name of missing) found[name] = join(build.dir, name);
  }
  return found as Record<ComponentName, string>;
}

/** Distinct free loopback ports: all listeners are open at once, so no port is handed out twice. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolvePromise, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolvePromise(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((r) => server.close(r))));
  return ports;
}

/** GET of a component's own HTTPS port with the admin client certificate; its serving certificate is self-signed. */
function getWithClientCert(url: string, connection: KubeConnection): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const req = httpsRequest(
      url,
      {
        timeout: 10_000,
        agent: false,
        rejectUnauthorized: false,
        cert: connection.cert,
        key: connection.key,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === 200) resolvePromise(body);
          else reject(new Error(`GET ${url}: HTTP ${res.statusCode}: ${body.slice(0, 200)}`));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}

function httpStatus(url: string, insecureTls = false): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const make = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = make(url, { timeout: 2_000, agent: false, rejectUnauthorized: !insecureTls }, (res) => {
      res.resume();
      res.on('end', () => resolvePromise(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const tempPrefix = 'kinfer-controlplane-';

/**
 * Removes temp directories left by runs whose process was SIGKILLed (no exit hook ran; the
 * components themselves exit via kcp's parent watchdog). Directories of live runs are kept.
 */
export async function sweepStaleDirs(): Promise<void> {
  const entries = await readdir(tmpdir()).catch(() => [] as string[]);
  await Promise.all(
    entries
      .filter((entry) => entry.startsWith(tempPrefix))
      .map(async (entry) => {
        const dir = join(tmpdir(), entry);
        const owner = Number.parseInt(await readFile(join(dir, 'owner.pid'), 'utf8').catch(() => ''), 10);
        if (Number.isInteger(owner) && owner > 0 && !processAlive(owner)) {
          await rm(dir, { recursive: true, force: true }).catch(() => {});
        }
      }),
  );
}

/**
 * Starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on loopback with a
 * throwaway CA, creates fake Nodes, installs CRDs, and resolves once all of it is ready.
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  try {
    return await startOnce(options);
  } catch (error) {
    // A free port can be taken by another process between our probe and the component's bind
    // (other test runs share this machine); one fresh attempt with new ports settles that.
    if (!/address already in use/i.test((error as Error).message)) throw error;
    options.log?.('a port was taken meanwhile; starting again on fresh ports');
    return await startOnce(options);
  }
}

async function startOnce(options: ControlPlaneOptions): Promise<ControlPlane> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const step = (what: string) => log(`${what} (+${Date.now() - started} ms)`);
  installExitHooks();
  const network = clusterNetwork(options.network);
  const realNodeOptions = options.realNode === true ? {} : options.realNode || undefined;

  await sweepStaleDirs();
  const dir = await mkdtemp(join(tmpdir(), tempPrefix));
  registerTempDir(dir);
  await writeFile(join(dir, 'owner.pid'), `${process.pid}\n`);
  const logsDir = join(dir, 'logs');
  const processes = new Map<ComponentName, ManagedProcess>();
  let stopped = false;
  let nodeHost: RealNodeHost | undefined;
  let realNode: RealNode | undefined;

  const stopAll = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (realNode) {
      const stopStarted = Date.now();
      await realNode.stop();
      log(`stopped the real node in ${Date.now() - stopStarted} ms`);
    }
    // Reverse dependency order: clients first, etcd last, so nothing logs errors about a
    // vanished apiserver and etcd shuts down with no open watches.
    for (const name of [
      'kwok',
      'kube-scheduler',
      'kube-controller-manager',
      'kube-apiserver',
      'etcd',
    ] as const) {
      const stopStarted = Date.now();
      await processes.get(name)?.stop(stopGraceMs[name]);
      log(`stopped ${name} in ${Date.now() - stopStarted} ms`);
    }
    if (process.env.KINFER_KEEP_CONTROLPLANE_DIR) {
      log(`kept ${dir} (KINFER_KEEP_CONTROLPLANE_DIR)`);
    } else {
      await rm(dir, { recursive: true, force: true });
    }
    releaseTempDir(dir);
    if (nodeHost) {
      const errors = await nodeHost.release();
      for (const error of errors) log(`restoring the host: ${error}`);
      if (errors.length > 0) throw new Error(`the real node left the host changed:\n${errors.join('\n')}`);
      log('host restored');
    }
  };

  try {
    await mkdir(logsDir);
    // The real node's network goes first: the apiserver listens on the node IP.
    if (realNodeOptions) {
      nodeHost = await acquireRealNodeHost(network, log);
      step(`real node host prepared (${nodeHost.state.dir})`);
    }
    const address = realNodeOptions ? network.nodeIp : '127.0.0.1';
    const sans = [`IP:${network.apiServiceIp}`, ...(realNodeOptions ? [`IP:${network.nodeIp}`] : [])];
    const [executables, certs, ports] = await Promise.all([
      resolveExecutables(options),
      createControlPlaneCerts(dir, { extraSans: sans }),
      freePorts(5),
    ]);
    const [etcdPort, etcdPeerPort, apiPort, kcmPort, schedulerPort] = ports as [
      number,
      number,
      number,
      number,
      number,
    ];
    step('binaries, certificates and ports ready');

    const server = `https://${address}:${apiPort}`;
    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeKubeconfig(kubeconfigPath, server, certs);
    const connection: KubeConnection = {
      server,
      ca: await readFile(certs.caCert),
      cert: await readFile(certs.adminCert),
      key: await readFile(certs.adminKey),
    };

    const launch = (name: ComponentName, args: string[], env?: NodeJS.ProcessEnv): ManagedProcess => {
      const proc = new ManagedProcess(name, executables[name], args, join(logsDir, `${name}.log`), env);
      processes.set(name, proc);
      return proc;
    };
    // Any component dying during start-up fails the start at once, with its log in the message.
    const watchExits = (): Promise<never> => {
      const watcher = new Promise<never>((_, reject) => {
        for (const proc of processes.values()) {
          void proc.exited.then((code) => {
            if (!stopped && !proc.stopping) {
              reject(
                new ControlPlaneStartError(
                  `${proc.name} exited (code ${code}) during start-up:\n${proc.tail()}`,
                ),
              );
            }
          });
        }
      });
      // A component exiting after the race is decided must not become an unhandled rejection.
      watcher.catch(() => {});
      return watcher;
    };
    const ready = async <T>(
      what: string,
      check: () => Promise<T | undefined>,
      timeoutMs = 60_000,
    ): Promise<T> => {
      const result = await Promise.race([
        pollUntil(what, check, { timeoutMs, intervalMs: 100 }),
        watchExits(),
      ]);
      step(`${what}: ready`);
      return result;
    };

    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcdPeer = `http://127.0.0.1:${etcdPeerPort}`;
    launch('etcd', [
      '--name=kinfer-test',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${etcdPeer}`,
      `--initial-advertise-peer-urls=${etcdPeer}`,
      `--initial-cluster=kinfer-test=${etcdPeer}`,
      // Test data is thrown away; fsync would only make every write slower.
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ]);
    await ready('etcd', async () => ((await httpStatus(`${etcdUrl}/health`)) === 200 ? true : undefined));

    const apiServerArgs = [
      `--advertise-address=${address}`,
      `--bind-address=${address}`,
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${certs.servingCert}`,
      `--tls-private-key-file=${certs.servingKey}`,
      `--client-ca-file=${certs.caCert}`,
      `--etcd-servers=${etcdUrl}`,
      '--authorization-mode=Node,RBAC',
      `--service-account-key-file=${certs.serviceAccountPub}`,
      `--service-account-signing-key-file=${certs.serviceAccountKey}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-cluster-ip-range=${network.serviceCidr}`,
      '--allow-privileged=true',
      // With a real node, the "kubernetes" Service points at the node IP, where pods reach the
      // apiserver. Without one the apiserver is on loopback only, where the endpoint reconciler
      // would only fail (and there is nothing in the cluster to reach it).
      ...(realNodeOptions
        ? [
            '--endpoint-reconciler-type=lease',
            // logs, exec, port-forward: the apiserver calls the kubelet as the admin user.
            `--kubelet-client-certificate=${certs.adminCert}`,
            `--kubelet-client-key=${certs.adminKey}`,
            '--kubelet-preferred-address-types=InternalIP',
          ]
        : ['--endpoint-reconciler-type=none']),
      '--profiling=false',
      '--v=1',
    ];
    const startApiServer = async (whenListening?: () => Promise<void>): Promise<void> => {
      launch('kube-apiserver', apiServerArgs);
      if (whenListening) {
        // Any HTTP answer (readyz says 500 until its post-start hooks finish) means it listens.
        await ready('kube-apiserver listening', async () =>
          (await kubeRequest(connection, 'GET', '/readyz', { timeoutMs: 2_000 })).status > 0
            ? true
            : undefined,
        );
        await whenListening();
      }
      await ready('kube-apiserver /readyz', async () =>
        (await kubeRequest(connection, 'GET', '/readyz', { timeoutMs: 2_000 })).status === 200
          ? true
          : undefined,
      );
    };
    // The scheduler and kwok start while the apiserver finishes its post-start hooks: their own
    // start-up (loading the binary, building informers) overlaps with it, and they retry until
    // the apiserver answers.
    const launchClients = async (): Promise<void> => {
      launch('kube-scheduler', [
        `--kubeconfig=${kubeconfigPath}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${schedulerPort}`,
        `--cert-dir=${join(dir, 'scheduler-certs')}`,
        '--leader-elect=false',
        '--v=1',
      ]);
      // kwok reads ~/.kwok/kwok.yaml when it exists; a HOME of its own keeps a developer's file out
      // of the tests, and with no configuration kwok applies all its defaults and default stages
      // (nodes Ready, pods Running and Ready). An explicit config file would skip those defaults
      // (no node leases, pods later marked NotReady by the node lifecycle controller).
      const kwokHome = join(dir, 'kwok-home');
      await mkdir(kwokHome);
      launch(
        'kwok',
        [
          `--kubeconfig=${kubeconfigPath}`,
          '--manage-all-nodes=false',
          `--manage-nodes-with-annotation-selector=${fakeNodeAnnotation.key}=${fakeNodeAnnotation.value}`,
          `--cidr=${network.kwokPodCidr}`,
          '--node-ip=127.0.0.1',
          // Heartbeats through Leases renewed every 10 s, as kubelets do.
          '--node-lease-duration-seconds=40',
        ],
        { ...process.env, HOME: kwokHome },
      );
    };
    await startApiServer(launchClients);

    const nodeNames = Array.from({ length: options.nodes ?? 3 }, (_, i) => `kwok-node-${i}`);
    const nodesCreated = Promise.all(
      nodeNames.map(async (name) => {
        const node = fakeNode(name, { tainted: !!realNodeOptions }) as { status: unknown };
        const created = await kubeRequest(connection, 'POST', '/api/v1/nodes', {
          body: JSON.stringify(node),
        });
        if (created.status !== 201 && created.status !== 409) {
          throw new ControlPlaneStartError(`creating Node ${name}: HTTP ${created.status}: ${created.body}`);
        }
        // Status is ignored on create for most kinds; set capacity through the status subresource.
        await kubeRequestOk(connection, 'PATCH', `/api/v1/nodes/${name}/status`, {
          body: JSON.stringify({ status: node.status }),
          contentType: 'application/merge-patch+json',
        });
      }),
    ).then(() => step('fake nodes created'));
    nodesCreated.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled"

    // CRDs go in before the controller manager starts: its garbage collector discovers resource
    // types at start and then only every 30 s, so owner references from objects to custom
    // resources installed later are honoured only after that resync.
    const crdsDir = options.crdsDir === undefined ? join(repoRoot, 'crds') : options.crdsDir;
    if (crdsDir) {
      const names = await Promise.race([installCrdsDirect(connection, crdsDir), watchExits()]);
      step(`CRDs established: ${names.length}`);
    }
    // The controller manager gives up if the apiserver is not healthy within 10 s of its start,
    // which a busy CI machine can exceed, so it starts only once the apiserver is ready.
    launch('kube-controller-manager', [
      `--kubeconfig=${kubeconfigPath}`,
      `--authentication-kubeconfig=${kubeconfigPath}`,
      `--authorization-kubeconfig=${kubeconfigPath}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${kcmPort}`,
      `--cert-dir=${join(dir, 'kcm-certs')}`,
      '--leader-elect=false',
      `--service-account-private-key-file=${certs.serviceAccountKey}`,
      `--root-ca-file=${certs.caCert}`,
      `--service-cluster-ip-range=${network.serviceCidr}`,
      // Every default controller except the ones that need a cloud or real kubelets' CSRs.
      '--controllers=*,-node-ipam-controller,-cloud-node-lifecycle-controller,-service-lb-controller,-node-route-controller',
      // CSRs (e.g. a test creating one) get signed by the throwaway CA.
      `--cluster-signing-cert-file=${certs.caCert}`,
      `--cluster-signing-key-file=${certs.caKey}`,
      '--use-service-account-credentials=false',
      // A node is declared NotReady after this long without a heartbeat, and its pods are then
      // marked not Ready for good (kwok does not revert that). kwok renews every 10 s; the margin
      // is for a CI machine so busy that a renewal runs late.
      '--node-monitor-grace-period=2m',
      ...(options.controllerManagerApi
        ? [
            `--kube-api-qps=${options.controllerManagerApi.qps}`,
            `--kube-api-burst=${options.controllerManagerApi.burst}`,
          ]
        : []),
      '--v=1',
    ]);

    await nodesCreated;

    await Promise.all([
      ready('fake nodes Ready', async () => {
        const list = JSON.parse(
          (await kubeRequestOk(connection, 'GET', '/api/v1/nodes?labelSelector=type%3Dkwok')).body,
        ) as { items: { status?: { conditions?: { type: string; status: string }[] } }[] };
        const readyCount = list.items.filter((node) =>
          node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        ).length;
        return readyCount >= nodeNames.length ? true : undefined;
      }),
      ready('kube-controller-manager (default ServiceAccount)', async () =>
        (await kubeRequest(connection, 'GET', '/api/v1/namespaces/default/serviceaccounts/default'))
          .status === 200
          ? true
          : undefined,
      ),
      ready('kube-controller-manager /healthz', async () =>
        (await httpStatus(`https://127.0.0.1:${kcmPort}/healthz`, true)) === 200 ? true : undefined,
      ),
      ready('kube-scheduler /healthz', async () =>
        (await httpStatus(`https://127.0.0.1:${schedulerPort}/healthz`, true)) === 200 ? true : undefined,
      ),
    ]);
    step('control plane ready');
    if (realNodeOptions && nodeHost) {
      realNode = await startRealNode({
        host: nodeHost,
        connection,
        server,
        certs,
        binDir: (await ensureControlPlaneBinary()).dir,
        freePorts,
        log,
        ...realNodeOptions,
      });
    }
    const startupMs = Date.now() - started;

    return {
      kubeconfigPath,
      server,
      connection,
      network,
      ...(realNode ? { realNode: realNode.info } : {}),
      dir,
      startupMs,
      pids: () => ({
        ...Object.fromEntries([...processes].filter(([, p]) => p.running).map(([name, p]) => [name, p.pid])),
        ...realNode?.pids(),
      }),
      metrics: async (component) => {
        if (component === 'kube-apiserver') return (await kubeRequestOk(connection, 'GET', '/metrics')).body;
        const port = component === 'kube-controller-manager' ? kcmPort : schedulerPort;
        return getWithClientCert(`https://127.0.0.1:${port}/metrics`, connection);
      },
      restartApiServer: async () => {
        const apiserver = processes.get('kube-apiserver');
        await apiserver?.stop(stopGraceMs['kube-apiserver']);
        // The port is ours until the process is gone; a short pause lets the kernel release it.
        await sleep(50);
        await startApiServer();
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    if (error instanceof ControlPlaneStartError) throw error;
    throw new ControlPlaneStartError(`control plane failed to start: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
