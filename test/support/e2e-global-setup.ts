import type { TestProject } from 'vitest/node';
import { type ControlPlane, repoRoot, startControlPlane } from './controlplane.ts';
import { fakeNodeTaint } from './controlplane-resources.ts';
import { run } from './node/exec.ts';
import { checkHostRestore, type HostCheck } from './node/host-check.ts';
import { ensureKinferImage } from './node/images.ts';
import { clusterNetwork } from './node/network.ts';
import { realNodeLabel } from './node/real-node.ts';

/** What the e2e project's tests get through inject(); see test/support/e2e.ts. */
export interface E2eCluster {
  /** Admin kubeconfig (system:masters) of the cluster with the real node. */
  kubeconfig: string;
  /** The kinfer image built from the Dockerfile, loaded into the node's containerd. */
  image: string;
  /** The real node: its name, IP, and the nodeSelector that puts a pod on it. */
  node: { name: string; ip: string; nodeSelector: Record<string, string> };
  /** kwok nodes (fake, for scale) are tainted here: pods that should run there need both. */
  kwok: { nodeSelector: Record<string, string>; toleration: object };
  network: { podCidr: string; serviceCidr: string; dnsServiceIp: string; apiServiceIp: string };
  /**
   * Two real-node clusters started and ended before the shared one started, one by stop(), one
   * by SIGKILL of the process that started it: the host before, during, and what differed after.
   * null on a reused cluster (KINFER_E2E_KUBECONFIG), where it is not checked.
   */
  hostCheck: HostCheck | null;
}

declare module 'vitest' {
  export interface ProvidedContext {
    e2eCluster: E2eCluster | null;
    /** Why the cluster is missing, when it is; every e2e test then fails with it. */
    e2eError: string;
  }
}

const say = (line: string) => process.stderr.write(`e2e: ${line}\n`);

/**
 * Global setup of the `e2e` vitest project: builds the kinfer image from the Dockerfile (cached
 * by the hash of what goes into it), checks that a real-node cluster's start and stop leave the
 * host as it was, then starts the cluster the tests share: the control plane, its kwok nodes and
 * one real node (containerd, kubelet, kube-proxy, CoreDNS) with the image loaded.
 *
 * As in the kube project, a failure here does not abort the run: it is provided as `e2eError`
 * and every e2e test fails with it.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let cluster: ControlPlane | undefined;
  try {
    const image = await ensureKinferImage({ repoRoot, log: say });
    say(`${image.built ? 'built' : 'cached'} ${image.ref} (Node ${image.nodeVersion})`);
    const reuse = process.env.KINFER_E2E_KUBECONFIG;
    if (reuse) {
      project.provide('e2eCluster', await reusedCluster(reuse, image.ref));
      project.provide('e2eError', '');
      say(`reusing the cluster of KINFER_E2E_KUBECONFIG=${reuse} (the host check does not run)`);
      return async () => {};
    }

    const hostCheck = await checkHostRestore();
    say(
      `host check: ${hostCheck.afterStop.length} differences after stop(), ${hostCheck.afterKill.length} after SIGKILL, ${hostCheck.leftAfterKill.length} processes left`,
    );

    cluster = await startControlPlane({ realNode: { images: [image.archive] } });
    const node = cluster.realNode;
    if (!node) throw new Error('the cluster started without its real node');
    say(
      `cluster ready in ${cluster.startupMs} ms (real node ${node.name} in ${node.startupMs} ms; kubeconfig ${cluster.kubeconfigPath})`,
    );
    project.provide('e2eCluster', {
      kubeconfig: cluster.kubeconfigPath,
      image: image.ref,
      node: { name: node.name, ip: node.ip, nodeSelector: node.nodeSelector },
      kwok,
      network: {
        podCidr: cluster.network.podCidr,
        serviceCidr: cluster.network.serviceCidr,
        dnsServiceIp: cluster.network.dnsServiceIp,
        apiServiceIp: cluster.network.apiServiceIp,
      },
      hostCheck,
    });
    project.provide('e2eError', '');
    const started = cluster;
    return () => started.stop();
  } catch (error) {
    await cluster?.stop().catch(() => {});
    const details = (error as { logTail?: string }).logTail;
    const message = `e2e tests: no real-node cluster: ${(error as Error).message}${details ? `\n${details}` : ''}`;
    process.stderr.write(`\n${message}\n\n`);
    project.provide('e2eCluster', null);
    project.provide('e2eError', message);
    return async () => {};
  }
}

const kwok = {
  nodeSelector: { type: 'kwok' },
  toleration: {
    key: fakeNodeTaint.key,
    operator: 'Equal',
    value: fakeNodeTaint.value,
    effect: fakeNodeTaint.effect,
  },
};

interface NodeJson {
  metadata: { name: string };
  status: { addresses: { type: string; address: string }[]; images: { names: string[] }[] };
}

/**
 * The cluster of `npm run cluster:up -- --real-node` (its kubeconfig in KINFER_E2E_KUBECONFIG):
 * the node labelled as the real one, which must already hold the image built from the current
 * sources (cluster:up imports it at start; restart it after a change).
 */
async function reusedCluster(kubeconfig: string, image: string): Promise<E2eCluster> {
  const get = async <T>(args: string[]) =>
    JSON.parse(await run('kubectl', ['--kubeconfig', kubeconfig, 'get', ...args, '-o', 'json'])) as T;
  const selector = `${realNodeLabel.key}=${realNodeLabel.value}`;
  const node = (await get<{ items: NodeJson[] }>(['nodes', '-l', selector])).items[0];
  if (!node) {
    throw new Error(
      `KINFER_E2E_KUBECONFIG=${kubeconfig}: no node labelled ${selector} (npm run cluster:up -- --real-node starts one)`,
    );
  }
  if (!node.status.images.some((entry) => entry.names.includes(image))) {
    throw new Error(
      `KINFER_E2E_KUBECONFIG=${kubeconfig}: node ${node.metadata.name} does not hold ${image} (the sources changed since cluster:up started: restart it)`,
    );
  }
  const ip = node.status.addresses.find((address) => address.type === 'InternalIP')?.address ?? '';
  const dns = await get<{ spec: { clusterIP: string } }>(['service', '-n', 'kube-system', 'kube-dns']);
  const api = await get<{ spec: { clusterIP: string } }>(['service', '-n', 'default', 'kubernetes']);
  const network = clusterNetwork();
  return {
    kubeconfig,
    image,
    node: { name: node.metadata.name, ip, nodeSelector: { [realNodeLabel.key]: realNodeLabel.value } },
    kwok,
    network: {
      podCidr: network.podCidr,
      serviceCidr: network.serviceCidr,
      dnsServiceIp: dns.spec.clusterIP,
      apiServiceIp: api.spec.clusterIP,
    },
    hostCheck: null,
  };
}
