import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../../src/kube/client.ts';
import { controllers } from '../../../src/operator/controllers.ts';
import { type ControllerSetup, Operator } from '../../../src/operator/manager.ts';
import { testKubeConfig, testKubeconfigPath, useTestNamespace } from '../../support/kube.ts';
import { ApiServerRelay, kubeConfigThrough } from './relay.ts';
import { kubectl, kubectlApply, modelDeployment, testPredictor, until } from './support.ts';

// Two operators with leader election on the shared control plane; the leader reaches the
// apiserver through a relay that then goes silent (a half-open connection: no error, no answer).
// The leader must stop at its renew deadline, before the standby can take over, and write nothing
// afterwards, not even once the path comes back.
const namespace = useTestNamespace('op-leader');
let kubeconfig: string;
let relay: ApiServerRelay;

beforeAll(async () => {
  kubeconfig = testKubeconfigPath();
  const server = new URL(testKubeConfig().getCurrentCluster()?.server ?? '');
  relay = new ApiServerRelay({ host: server.hostname, port: Number(server.port) });
  await relay.listen();
});
afterAll(() => relay?.close());

/** Every write a replica's reconcilers got an answer to, with when. */
type Write = { at: number; what: string };

/** The controllers, with their API client wrapped to record each answered write. */
function tracedControllers(writes: Write[]): ControllerSetup[] {
  const traced = (client: KubeClient): KubeClient => {
    const wrapper = Object.create(client) as KubeClient;
    wrapper.request = async (method, path, options) => {
      const answer = await client.request(method, path, options);
      if (method !== 'GET') writes.push({ at: performance.now(), what: `${method} ${path}` });
      return answer as never;
    };
    return wrapper;
  };
  return controllers.map((setup) => (ctx) => setup({ ...ctx, client: traced(ctx.client) }));
}

function replica(identity: string, writes: Write[], viaRelay: boolean): Operator {
  const kubeConfig = viaRelay ? kubeConfigThrough(relay, kubeconfig) : testKubeConfig();
  return new Operator(
    {
      kubeConfig,
      namespaces: [namespace()],
      predictor: testPredictor,
      leaderElect: true,
      leaseNamespace: namespace(),
      leaseName: 'race',
      identity,
      leaseDurationSeconds: 4,
      renewDeadlineMs: 2_500,
      retryPeriodMs: 500,
    },
    tracedControllers(writes),
  );
}

const ready = (name: string) =>
  kubectl(kubeconfig, ['wait', '-n', namespace(), '--for=condition=Ready', `md/${name}`, '--timeout=90s']);

describe('leader election with a frozen connection', () => {
  it('never lets two operators reconcile at once', async () => {
    const aWrites: Write[] = [];
    const bWrites: Write[] = [];
    const a = replica('a', aWrites, true);
    const b = replica('b', bWrites, false);
    let overlap = 0;
    let aLostAt: number | undefined;
    let bLeadsAt: number | undefined;
    void a.lost.then(() => {
      aLostAt = performance.now();
    });
    const sampler = setInterval(() => {
      if (a.isLeader && b.isLeader) overlap++;
      if (b.isLeader) bLeadsAt ??= performance.now();
    }, 10);
    try {
      await a.start();
      expect(a.isLeader).toBe(true);
      const bStarted = b.start();
      await kubectlApply(kubeconfig, [modelDeployment('before', namespace())]);
      await ready('before');
      expect(aWrites.length).toBeGreaterThan(0);
      expect(bWrites).toEqual([]);

      expect(relay.freeze({ newConnections: true })).toBeGreaterThan(0);
      const frozenAt = performance.now();
      await kubectlApply(kubeconfig, [modelDeployment('during', namespace())]);
      await until('the standby to lead', async () => b.isLeader, { timeoutMs: 30_000, intervalMs: 20 });
      await bStarted;
      // The old leader stopped at its renew deadline, before the standby took over.
      expect(aLostAt).toBeDefined();
      expect(aLostAt).toBeLessThan(bLeadsAt ?? 0);
      expect((aLostAt ?? 0) - frozenAt).toBeLessThan(2_500 + 1_000);

      relay.thaw();
      await kubectlApply(kubeconfig, [modelDeployment('after', namespace())]);
      await ready('during');
      await ready('after');
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(overlap).toBe(0);
      // Nothing of the old leader reached the apiserver once the new one led, even with the path back.
      expect(aWrites.filter((write) => write.at >= (bLeadsAt ?? 0))).toEqual([]);
      expect(bWrites.length).toBeGreaterThan(0);
      expect(a.isLeader).toBe(false);
    } finally {
      clearInterval(sampler);
      relay.thaw();
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
