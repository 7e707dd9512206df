import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { apply, e2eCluster, getJson, kubectl, podsOf, useE2eNamespace } from '../../support/e2e.ts';
import {
  allowed,
  type Binding,
  bindsServiceAccount,
  condition,
  installOperator,
  leaseHeldAndRenewed,
  liveBindingsOf,
  operatorNamespace,
  renderDefault,
  waitForCondition,
} from './support.ts';

const serviceAccount = `system:serviceaccount:${operatorNamespace}:kinfer-operator`;

// Install as the README says: `kubectl apply --server-side -k config/default` with the image built
// from the Dockerfile. The operator then runs as a pod on the real node, under config/rbac's
// permissions and nothing else, holds its Lease and reconciles.
describe('kubectl apply --server-side -k config/default', () => {
  const namespace = useE2eNamespace('install');

  it('runs the operator as a pod of the built image, Ready on the real node', async () => {
    const { elapsedMs } = await installOperator();
    const [pod, ...others] = await podsOf(operatorNamespace, 'app.kubernetes.io/component=operator');
    expect(others).toEqual([]);
    expect(pod?.spec?.nodeName).toBe(e2eCluster().node.name);
    expect(pod?.status?.containerStatuses?.[0]?.ready).toBe(true);
    const spec = await getJson<{ spec: { serviceAccountName: string; containers: { image: string }[] } }>([
      'get',
      'pod',
      '-n',
      operatorNamespace,
      pod?.metadata.name ?? '',
    ]);
    expect(spec.spec.serviceAccountName).toBe('kinfer-operator');
    expect(spec.spec.containers[0]?.image).toBe(e2eCluster().image);
    process.stderr.write(
      `e2e install: kubectl apply -k config/default to a Ready operator in ${elapsedMs} ms\n`,
    );
  });

  it("has exactly config/rbac's permissions: its bindings, its rules, no Secrets", async () => {
    const rendered = parseAllDocuments(await renderDefault()).map((doc) => doc.toJSON()) as Binding[];
    const line = (o: Binding) =>
      `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name} -> ${o.roleRef.name}`;
    const expected = rendered
      .filter(
        (o) =>
          (o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding') &&
          bindsServiceAccount(o, operatorNamespace, 'kinfer-operator'),
      )
      .map(line)
      .sort();
    const live = (await liveBindingsOf(operatorNamespace, 'kinfer-operator')).map(line).sort();
    expect(live).toEqual(expected);
    expect(live.length).toBeGreaterThanOrEqual(2);

    const role = rendered.find(
      (o) => o.kind === 'ClusterRole' && o.metadata.name === 'kinfer-operator',
    ) as unknown as {
      rules: unknown[];
    };
    const liveRole = await getJson<{ rules: unknown[] }>(['get', 'clusterrole', 'kinfer-operator']);
    expect(liveRole.rules).toEqual(role.rules);

    // The apiserver's own authorizer, asked as the operator's ServiceAccount.
    const can = (verb: string, group: string, resource: string) =>
      allowed(serviceAccount, namespace(), verb, group, resource);
    expect(await can('patch', 'apps', 'deployments')).toBe(true);
    expect(await can('get', '', 'secrets')).toBe(false);
    expect(await can('delete', 'apps', 'deployments')).toBe(false);
  });

  it('holds its Lease, renewed by the running pod', async () => {
    const [pod] = await podsOf(operatorNamespace, 'app.kubernetes.io/component=operator');
    const lease = await leaseHeldAndRenewed(operatorNamespace, pod?.metadata.name ?? '');
    expect(Date.parse(lease.renewed)).toBeGreaterThan(Date.parse(lease.first));
  });

  it('reconciles: a ModelDeployment gets its Deployment, Service and status', async () => {
    await apply(namespace(), {
      apiVersion: 'kinfer.dev/v1alpha1',
      kind: 'ModelDeployment',
      metadata: { name: 'reconciled' },
      spec: { model: { name: 'mnist-cnn', source: { builtin: 'mnist-cnn' } }, replicas: 0 },
    });
    const md = await waitForCondition(
      namespace(),
      'md',
      'reconciled',
      (object) => object.status?.observedGeneration === 1 && condition(object, 'Ready') !== undefined,
      'reconciled',
      60_000,
    );
    expect(md.status?.endpoints?.rest).toBe(`http://reconciled.${namespace()}.svc.cluster.local:8080`);
    const deployment = await getJson<{ metadata: { ownerReferences: { name: string }[] } }>([
      'get',
      'deployment',
      '-n',
      namespace(),
      'reconciled',
    ]);
    expect(deployment.metadata.ownerReferences[0]?.name).toBe('reconciled');
    await kubectl(['get', 'service', '-n', namespace(), 'reconciled']);
  });
});
