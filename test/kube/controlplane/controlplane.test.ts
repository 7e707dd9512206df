import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
} from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  hasCondition,
  testKubeConfig,
  testKubeconfigPath,
  uniqueName,
  useTestNamespace,
  waitFor,
} from '../../support/kube.ts';

const execFileAsync = promisify(execFile);

// These tests check the control plane itself: the controller manager, scheduler and kwok working
// together, garbage collection, CRDs with a status subresource, and kubectl with the written
// kubeconfig. Every other kube test builds on these behaviours.
describe('test control plane', () => {
  const namespace = useTestNamespace('controlplane');
  const kc = testKubeConfig();
  const apps = kc.makeApiClient(AppsV1Api);
  const core = kc.makeApiClient(CoreV1Api);

  function deployment(name: string, replicas: number): V1Deployment {
    const labels = { app: name };
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: namespace(), labels },
      spec: {
        replicas,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          // kwok pulls nothing and runs nothing: any image name works, readiness is simulated.
          spec: { containers: [{ name: 'main', image: 'registry.invalid/kinfer/none:1' }] },
        },
      },
    };
  }

  async function podsOf(name: string) {
    return (await core.listNamespacedPod({ namespace: namespace(), labelSelector: `app=${name}` })).items;
  }

  it('runs a Deployment to Available with Ready pods on the fake nodes, then garbage-collects it', async () => {
    const name = uniqueName('web');
    await apps.createNamespacedDeployment({ namespace: namespace(), body: deployment(name, 3) });

    const available = await waitFor('Deployment Available with 3 ready replicas', async () => {
      const current = await apps.readNamespacedDeployment({ name, namespace: namespace() });
      return hasCondition(current.status?.conditions, 'Available') && current.status?.readyReplicas === 3
        ? current
        : undefined;
    });
    expect(available.status?.availableReplicas).toBe(3);

    const pods = await podsOf(name);
    expect(pods).toHaveLength(3);
    for (const pod of pods) {
      expect(pod.spec?.nodeName).toMatch(/^kwok-node-\d+$/);
      expect(pod.status?.phase).toBe('Running');
      expect(hasCondition(pod.status?.conditions, 'Ready')).toBe(true);
      // kwok's fake pod IPs: the upper half of the cluster's pod CIDR 198.18.0.0/16.
      expect(pod.status?.podIP).toMatch(/^198\.18\.(\d+)\./);
      expect(Number(pod.status?.podIP?.split('.')[2])).toBeGreaterThanOrEqual(128);
    }
    const replicaSets = await apps.listNamespacedReplicaSet({
      namespace: namespace(),
      labelSelector: `app=${name}`,
    });
    expect(replicaSets.items).toHaveLength(1);
    expect(replicaSets.items[0]?.metadata?.ownerReferences?.[0]?.name).toBe(name);

    // Background propagation: the Deployment goes at once, the garbage collector removes its
    // ReplicaSet, and then the ReplicaSet's pods (kwok completes their graceful deletion).
    await apps.deleteNamespacedDeployment({ name, namespace: namespace(), propagationPolicy: 'Background' });
    await waitFor('ReplicaSet and pods garbage-collected', async () => {
      const remainingSets = (
        await apps.listNamespacedReplicaSet({ namespace: namespace(), labelSelector: `app=${name}` })
      ).items.length;
      const remainingPods = (await podsOf(name)).length;
      return remainingSets === 0 && remainingPods === 0 ? true : undefined;
    });
  });

  it('keeps the fake nodes alive with node Leases, as kubelets do', async () => {
    // Without renewed Leases the node lifecycle controller declares the nodes NotReady after its
    // grace period and marks every pod on them not Ready, for good: long tests would then fail.
    const nodes = (await core.listNode({ labelSelector: 'type=kwok' })).items;
    expect(nodes.length).toBeGreaterThanOrEqual(1);
    const leases = kc.makeApiClient(CoordinationV1Api);
    for (const node of nodes) {
      const name = node.metadata?.name ?? '';
      expect(hasCondition(node.status?.conditions, 'Ready')).toBe(true);
      const lease = await waitFor(`Lease of ${name}`, async () =>
        leases.readNamespacedLease({ name, namespace: 'kube-node-lease' }).catch(() => undefined),
      );
      expect(lease.spec?.leaseDurationSeconds).toBe(40);
      const renewed = new Date(lease.spec?.renewTime ?? 0).getTime();
      expect(Date.now() - renewed).toBeLessThan(30_000);
    }
  });

  it('kubectl wait --for=condition=Available works with the written kubeconfig', async () => {
    const name = uniqueName('kubectl');
    await apps.createNamespacedDeployment({ namespace: namespace(), body: deployment(name, 1) });
    const { stdout } = await execFileAsync('kubectl', [
      '--kubeconfig',
      testKubeconfigPath(),
      '--namespace',
      namespace(),
      'wait',
      '--for=condition=Available',
      '--timeout=60s',
      `deployment/${name}`,
    ]);
    expect(stdout).toContain(`deployment.apps/${name} condition met`);
  });

  it('serves a CRD with a status subresource: status is written only through /status', async () => {
    const group = 'controlplane.test.kinfer.dev';
    const plural = 'gadgets';
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `${plural}.${group}` },
      spec: {
        group,
        scope: 'Namespaced',
        names: { plural, singular: 'gadget', kind: 'Gadget' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            subresources: { status: {} },
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: {
                  spec: { type: 'object', properties: { size: { type: 'integer', minimum: 1 } } },
                  status: { type: 'object', properties: { phase: { type: 'string' } } },
                },
              },
            },
          },
        ],
      },
    };
    // Server-side apply makes this idempotent on a reused cluster (KINFER_TEST_KUBECONFIG).
    await KubernetesObjectApi.makeApiClient(kc).patch(
      crd,
      undefined,
      undefined,
      'kinfer-test',
      true,
      PatchStrategy.ServerSideApply,
    );
    const extensions = kc.makeApiClient(ApiextensionsV1Api);
    await waitFor('CRD Established', async () => {
      const current = await extensions.readCustomResourceDefinition({ name: crd.metadata.name });
      return hasCondition(current.status?.conditions, 'Established') ? true : undefined;
    });

    const objects = kc.makeApiClient(CustomObjectsApi);
    const name = uniqueName('gadget');
    const ref = { group, version: 'v1', namespace: namespace(), plural };
    // Status in a create is dropped when the status subresource is enabled.
    const created = await objects.createNamespacedCustomObject({
      ...ref,
      body: {
        apiVersion: `${group}/v1`,
        kind: 'Gadget',
        metadata: { name },
        spec: { size: 2 },
        status: { phase: 'Sneaky' },
      },
    });
    expect(created.status).toBeUndefined();

    // The schema is enforced (size minimum 1).
    await expect(
      objects.createNamespacedCustomObject({
        ...ref,
        body: {
          apiVersion: `${group}/v1`,
          kind: 'Gadget',
          metadata: { name: `${name}-bad` },
          spec: { size: 0 },
        },
      }),
    ).rejects.toThrow(/size/);

    const patched = await objects.patchNamespacedCustomObjectStatus(
      { ...ref, name, body: { status: { phase: 'Ready' }, spec: { size: 99 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(patched.status).toEqual({ phase: 'Ready' });
    // The status endpoint ignores spec changes, and a status write does not bump the generation.
    expect(patched.spec).toEqual({ size: 2 });
    expect(patched.metadata.generation).toBe(created.metadata.generation);
  });
});
