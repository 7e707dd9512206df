import { afterEach, describe, expect, it } from 'vitest';
import { testKubeconfigPath, useTestNamespace } from '../../support/kube.ts';
import {
  freePort,
  type Json,
  kubectl,
  kubectlApply,
  kubectlJson,
  modelDeployment,
  OperatorProcess,
  until,
} from './support.ts';

// `kinfer operator` as separate processes, the way replicas of its Deployment run: leader election
// between two of them, and a kill in the middle of reconciling.
const namespace = useTestNamespace('op-proc');
const running: OperatorProcess[] = [];

async function spawnOperator(args: string[]): Promise<OperatorProcess> {
  const operator = new OperatorProcess(testKubeconfigPath(), await freePort(), [
    '--namespaces',
    namespace(),
    '--lease-namespace',
    namespace(),
    ...args,
  ]);
  running.push(operator);
  await until(
    `operator /healthz (logs: ${operator.logs.slice(-2000)})`,
    async () => (await operator.get('/healthz')).status === 200,
    {
      timeoutMs: 30_000,
    },
  );
  return operator;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((operator) => operator.stop('SIGKILL')));
});

const holder = async (): Promise<string | undefined> => {
  const lease = await kubectlJson(testKubeconfigPath(), [
    'get',
    'lease',
    '-n',
    namespace(),
    'kinfer-operator',
  ]);
  return lease.spec.holderIdentity || undefined;
};

describe('kinfer operator processes', () => {
  it('elects one leader; on SIGTERM it releases the lease and the standby takes over within 15 s', async () => {
    const [a, b] = await Promise.all([spawnOperator(['--leader-elect']), spawnOperator(['--leader-elect'])]);
    const leader = await until('one leader', async () => {
      const states = await Promise.all([a.isLeader(), b.isLeader()]);
      return states.filter(Boolean).length === 1 ? (states[0] ? a : b) : undefined;
    });
    const standby = leader === a ? b : a;
    // The standby keeps waiting while the leader renews.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(await standby.isLeader()).toBe(false);
    expect((await standby.get('/readyz')).status).toBe(200);
    const heldBy = await holder();

    const stopped = Date.now();
    expect(await leader.stop('SIGTERM')).toBe(0);
    await until('the standby to lead', () => standby.isLeader(), { timeoutMs: 15_000, intervalMs: 100 });
    const takeoverMs = Date.now() - stopped;
    expect(takeoverMs).toBeLessThan(15_000);
    expect(await holder()).not.toBe(heldBy);
    // And it works: a new ModelDeployment is reconciled by the new leader.
    await kubectlApply(testKubeconfigPath(), [modelDeployment('after-takeover', namespace())]);
    await kubectl(testKubeconfigPath(), [
      'wait',
      '-n',
      namespace(),
      '--for=condition=Ready',
      'md/after-takeover',
      '--timeout=60s',
    ]);
    console.log(`leader takeover after SIGTERM: ${takeoverMs} ms`);
  });

  it('takes over from a killed leader (no release) once the lease expires, within 15 s', async () => {
    const args = ['--leader-elect', '--lease-duration-seconds', '8', '--lease-name', 'killed'];
    const a = await spawnOperator(args);
    await until('a to lead', () => a.isLeader());
    const b = await spawnOperator(args);
    const killed = Date.now();
    await a.stop('SIGKILL');
    await until('b to lead', () => b.isLeader(), { timeoutMs: 15_000, intervalMs: 100 });
    const takeoverMs = Date.now() - killed;
    expect(takeoverMs).toBeLessThan(15_000);
    console.log(`leader takeover after SIGKILL (8 s lease): ${takeoverMs} ms`);
  });

  it('killed mid-reconcile and restarted, converges without duplicates or churn', async () => {
    const kubeconfig = testKubeconfigPath();
    const count = 30;
    await kubectlApply(
      kubeconfig,
      Array.from({ length: count }, (_, i) => modelDeployment(`kill-${i}`, namespace())),
    );
    const first = await spawnOperator(['--concurrency', '1']);
    await until(
      'some children to exist',
      async () => {
        const list = await kubectlJson(kubeconfig, [
          'get',
          'deployments',
          '-n',
          namespace(),
          '-l',
          'app.kubernetes.io/instance',
        ]);
        return list.items.filter((d: Json) => d.metadata.name.startsWith('kill-')).length >= 3;
      },
      { intervalMs: 50 },
    );
    await first.stop('SIGKILL');
    const atKill = (
      await kubectlJson(kubeconfig, ['get', 'modeldeployments', '-n', namespace()])
    ).items.filter(
      (md: Json) =>
        md.metadata.name.startsWith('kill-') &&
        md.status?.conditions?.some((c: Json) => c.type === 'Ready' && c.status === 'True'),
    ).length;
    expect(atKill).toBeLessThan(count);

    await spawnOperator([]);
    await kubectl(kubeconfig, [
      'wait',
      '-n',
      namespace(),
      '--for=condition=Ready',
      'md',
      '--all',
      '--timeout=90s',
    ]);
    const deployments = (
      await kubectlJson(kubeconfig, ['get', 'deployments', '-n', namespace()])
    ).items.filter((d: Json) => d.metadata.name.startsWith('kill-'));
    const services = (await kubectlJson(kubeconfig, ['get', 'services', '-n', namespace()])).items.filter(
      (s: Json) => s.metadata.name.startsWith('kill-'),
    );
    const pods = (await kubectlJson(kubeconfig, ['get', 'pods', '-n', namespace()])).items.filter((p: Json) =>
      p.metadata.name.startsWith('kill-'),
    );
    expect(deployments).toHaveLength(count);
    expect(services).toHaveLength(count);
    expect(pods).toHaveLength(count);
    for (const deployment of deployments) {
      expect(deployment.metadata.ownerReferences).toHaveLength(1);
      // Applied once with this spec: the restart re-applied nothing that changed it.
      expect(deployment.metadata.generation).toBe(1);
    }
  });
});
