import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Operator } from '../../../src/operator/manager.ts';
import { testKubeConfig, testKubeconfigPath, useTestNamespace } from '../../support/kube.ts';
import { type Json, kubectl, kubectlApply, kubectlJson, modelDeployment, startOperator } from './support.ts';

// With nothing changing, a correct operator writes nothing. The window is 30 s (not 60) to keep
// the suite's time down; the resync period is cut to 5 s so that every ModelDeployment is fully
// reconciled six times inside the window: "no write" is then the reconciler deciding nothing
// changed, not merely the absence of triggers.
const WINDOW_MS = Number(process.env.KINFER_HOTLOOP_WINDOW_MS ?? 30_000);
const COUNT = 50;
const namespace = useTestNamespace('op-idle');
let operator: Operator;

beforeAll(async () => {
  operator = await startOperator(testKubeConfig(), { namespaces: [namespace()], resyncMs: 5_000 });
});
afterAll(async () => {
  await operator?.stop();
});

it(`makes zero write requests over ${WINDOW_MS / 1000} s with ${COUNT} Ready ModelDeployments`, async () => {
  const kubeconfig = testKubeconfigPath();
  await kubectlApply(
    kubeconfig,
    Array.from({ length: COUNT }, (_, i) => modelDeployment(`idle-${i}`, namespace(), { replicas: 1 })),
  );
  await kubectl(kubeconfig, [
    'wait',
    '-n',
    namespace(),
    '--for=condition=Ready',
    'md',
    '--all',
    '--timeout=120s',
  ]);
  // Let the last status writes and their watch events settle.
  await new Promise((resolve) => setTimeout(resolve, 3_000));

  const readinessBefore = await podReadiness(kubeconfig, namespace());
  const reconcilesBefore = await count(operator, 'kinfer_operator_reconcile_total');
  const writesBefore = await operator.metrics.writeCount();
  await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
  const writes = (await operator.metrics.writeCount()) - writesBefore;
  const reconciles = (await count(operator, 'kinfer_operator_reconcile_total')) - reconcilesBefore;

  // "Nothing changing" must hold for the test to mean anything: a pod whose readiness flipped
  // (e.g. kube-controller-manager marking pods NotReady because the fake nodes stopped
  // heartbeating) is a real change the operator must report, so say that instead.
  const readinessAfter = await podReadiness(kubeconfig, namespace());
  const flipped = [...readinessAfter].filter(([pod, ready]) => readinessBefore.get(pod) !== ready);
  if (flipped.length) {
    throw new Error(
      `the cluster did not stay idle: ${flipped.length} predictor pods changed readiness during the window (${flipped
        .slice(0, 3)
        .map(([pod, ready]) => `${pod}: ${ready}`)
        .join(', ')}); ${writes} writes followed`,
    );
  }
  const { values } = await operator.metrics.apiRequests.get();
  const byVerb = values.filter((v) => !['GET', 'LIST', 'WATCH'].includes(String(v.labels.verb)));
  console.log(
    `idle window ${WINDOW_MS} ms: ${reconciles} reconciles, ${writes} writes`,
    JSON.stringify(byVerb.map((v) => v.labels)),
  );
  expect(reconciles).toBeGreaterThanOrEqual(COUNT * Math.floor(WINDOW_MS / 5_000) - COUNT);
  expect(writes).toBe(0);
});

/** Pod name → its Ready condition (status and transition time). */
async function podReadiness(kubeconfig: string, ns: string): Promise<Map<string, string>> {
  const pods = await kubectlJson(kubeconfig, ['get', 'pods', '-n', ns]);
  return new Map(
    pods.items.map((pod: Json) => {
      const ready = pod.status?.conditions?.find((c: Json) => c.type === 'Ready');
      return [pod.metadata.name, `${ready?.status} since ${ready?.lastTransitionTime}`];
    }),
  );
}

async function count(operator: Operator, name: string): Promise<number> {
  const metric = (await operator.metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  return metric.reduce((sum, { value }) => sum + value, 0);
}
