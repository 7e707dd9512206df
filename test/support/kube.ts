import { randomBytes } from 'node:crypto';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, inject } from 'vitest';
import { pollUntil } from './controlplane-http.ts';

/** Path of the admin kubeconfig the kube project's global setup provides. */
export function testKubeconfigPath(): string {
  const error = inject('kubeconfigError');
  if (error) throw new Error(error);
  const path = inject('kubeconfig');
  if (!path) throw new Error('no kubeconfig provided: is this file in the kube project (test/kube/**)?');
  return path;
}

/** A KubeConfig for the shared test control plane (admin, system:masters). */
export function testKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(testKubeconfigPath());
  return kc;
}

/** A DNS-1123 name unique to this run, e.g. `uniqueName('md')` → `md-3f9a1c`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/**
 * Creates a namespace of its own for the calling test file (in beforeAll) and deletes it afterwards
 * (afterAll, without waiting for finalization), in the kube project's cluster or, given its
 * kubeconfig path, another one (the e2e project's). Returns a getter, since the name exists only once
 * beforeAll has run.
 */
export function useTestNamespace(
  prefix = 'test',
  kubeconfigPath: () => string = testKubeconfigPath,
): () => string {
  let name: string | undefined;
  const kubeConfig = () => {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath());
    return kc;
  };
  beforeAll(async () => {
    const candidate = uniqueName(prefix);
    const core = kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespace({
      body: { metadata: { name: candidate, labels: { 'kinfer.dev/test': 'true' } } },
    });
    name = candidate;
    // Pods are admitted only once the namespace's "default" ServiceAccount exists (the
    // controller manager creates it within moments); waiting here keeps a test that creates a Pod
    // right away from failing on that race.
    await waitFor(`ServiceAccount ${candidate}/default`, async () =>
      (await core
        .readNamespacedServiceAccount({ name: 'default', namespace: candidate })
        .catch(() => undefined))
        ? true
        : undefined,
    );
  });
  afterAll(async () => {
    if (!name) return;
    await kubeConfig()
      .makeApiClient(CoreV1Api)
      .deleteNamespace({ name })
      .catch(() => {});
  });
  return () => {
    if (!name) throw new Error('useTestNamespace: the namespace exists only inside tests (after beforeAll)');
    return name;
  };
}

/**
 * Polls until `check` returns something other than undefined; on timeout the error names `what`
 * and the last reason (or thrown error). Prefer a watch in product code; in tests, a short poll
 * keeps assertions simple.
 */
export function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  return pollUntil(what, check, {
    timeoutMs: options.timeoutMs ?? 60_000,
    intervalMs: options.intervalMs ?? 200,
  });
}

export interface ConditionLike {
  type: string;
  status: string;
}

/** True when `conditions` has `type` with status "True". */
export function hasCondition(
  conditions: ConditionLike[] | undefined,
  type: string,
  status = 'True',
): boolean {
  return conditions?.some((condition) => condition.type === type && condition.status === status) ?? false;
}
