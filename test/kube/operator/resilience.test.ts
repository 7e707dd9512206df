import net from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Operator } from '../../../src/operator/manager.ts';
import { type ControlPlane, startControlPlane } from '../../support/controlplane.ts';
import { kubectl, kubectlApply, kubectlJson, modelDeployment, startOperator, until } from './support.ts';

// A control plane of this file's own, since the apiserver gets restarted under the operator.
let controlPlane: ControlPlane;
const namespace = 'resilience';

beforeAll(async () => {
  controlPlane = await startControlPlane({ nodes: 1 });
  await kubectl(controlPlane.kubeconfigPath, ['create', 'namespace', namespace]);
}, 300_000);
afterAll(async () => {
  await controlPlane?.stop();
});

const ready = (name: string) =>
  kubectl(controlPlane.kubeconfigPath, [
    'wait',
    '-n',
    namespace,
    '--for=condition=Ready',
    `md/${name}`,
    '--timeout=60s',
  ]);

/** Watch restarts summed over every cache, by reason. */
function restarts(operator: Operator): Record<string, number> {
  const total: Record<string, number> = {};
  for (const stats of Object.values(operator.informerStats()).flat()) {
    for (const [reason, n] of Object.entries(stats.restarts)) total[reason] = (total[reason] ?? 0) + n;
  }
  return total;
}

/**
 * A TCP relay between the operator and the apiserver that can go silent: `freeze()` stops
 * forwarding on every open connection without closing it (a half-open connection, a stuck NAT or
 * proxy), while new connections still work.
 */
class FreezableRelay {
  private readonly server: net.Server;
  private readonly open = new Set<{ frozen: boolean; sockets: net.Socket[] }>();
  port = 0;

  constructor(target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(target.port, target.host);
      const link = { frozen: false, sockets: [client, upstream] };
      this.open.add(link);
      const forward = (from: net.Socket, to: net.Socket) =>
        from.on('data', (chunk) => {
          if (!link.frozen) to.write(chunk);
        });
      forward(client, upstream);
      forward(upstream, client);
      const close = () => {
        if (link.frozen) return; // a frozen link never tells the other side anything
        client.destroy();
        upstream.destroy();
        this.open.delete(link);
      };
      client.on('close', close).on('error', close);
      upstream.on('close', close).on('error', close);
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  freeze(): number {
    for (const link of this.open) link.frozen = true;
    return this.open.size;
  }

  close(): void {
    for (const link of this.open) for (const socket of link.sockets) socket.destroy();
    this.server.close();
  }
}

describe('operator resilience', () => {
  it('recovers its watches after an apiserver restart and reconciles changes made afterwards', async () => {
    const kubeconfig = controlPlane.kubeconfigPath;
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const operator = await startOperator(kc, { namespaces: [namespace], requestTimeoutMs: 5_000 });
    try {
      await kubectlApply(kubeconfig, [modelDeployment('before', namespace)]);
      await ready('before');
      await controlPlane.restartApiServer();
      await kubectlApply(kubeconfig, [modelDeployment('after', namespace)]);
      await kubectl(kubeconfig, ['scale', '-n', namespace, 'md/before', '--replicas=2']);
      await ready('after');
      await until('md/before to be Ready with 2 replicas', async () => {
        const md = await kubectlJson(kubeconfig, ['get', '-n', namespace, 'md/before']);
        return md.status?.readyReplicas === 2 && md.status.observedGeneration === md.metadata.generation;
      });
      // Every watch broke and was re-established (not just one lucky informer).
      const reasons = restarts(operator);
      expect((reasons.error ?? 0) + (reasons.gone ?? 0) + (reasons.closed ?? 0)).toBeGreaterThanOrEqual(4);
    } finally {
      await operator.stop();
    }
  });

  it('does not go deaf when a watch connection goes silent: the watchdog reconnects', async () => {
    const server = new URL(controlPlane.server);
    const relay = new FreezableRelay({ host: server.hostname, port: Number(server.port) });
    await relay.listen();
    const kc = new KubeConfig();
    kc.loadFromFile(controlPlane.kubeconfigPath);
    const cluster = kc.getCurrentCluster()!;
    kc.clusters = kc.clusters.map((c) =>
      c.name === cluster.name ? { ...c, server: `https://127.0.0.1:${relay.port}` } : c,
    );
    // Short server-side timeouts so the test waits seconds, not the production 5-10 minutes.
    const operator = await startOperator(kc, {
      namespaces: [namespace],
      watchTimeoutSeconds: 2,
      watchdogGraceMs: 1_000,
      requestTimeoutMs: 3_000,
    });
    try {
      await kubectlApply(controlPlane.kubeconfigPath, [modelDeployment('quiet-1', namespace)]);
      await ready('quiet-1');
      const before = restarts(operator).watchdog ?? 0;
      expect(relay.freeze()).toBeGreaterThan(0);
      // Made while every existing connection is silent: only a reconnect can see it.
      await kubectlApply(controlPlane.kubeconfigPath, [modelDeployment('quiet-2', namespace)]);
      await ready('quiet-2');
      expect(restarts(operator).watchdog ?? 0).toBeGreaterThan(before);
    } finally {
      await operator.stop();
      relay.close();
    }
  });
});
