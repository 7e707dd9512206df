import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Operator } from '../../../src/operator/manager.ts';
import { type ControlPlane, startControlPlane } from '../../support/controlplane.ts';
import { ApiServerRelay, kubeConfigThrough } from './relay.ts';
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
    const relay = new ApiServerRelay({ host: server.hostname, port: Number(server.port) });
    await relay.listen();
    const kc = kubeConfigThrough(relay, controlPlane.kubeconfigPath);
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
