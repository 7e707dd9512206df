import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../../support/controlplane.ts';
import { apply, e2eCluster, getJson, kubectl, podsOf, useE2eNamespace } from '../../support/e2e.ts';
import { waitFor } from '../../support/kube.ts';
import { helmBinary } from '../../unit/api/helm.ts';
import {
  allowed,
  type Binding,
  bindsServiceAccount,
  installOperator,
  leaseHeldAndRenewed,
  liveBindingsOf,
  operatorNamespace,
  readyWith,
  renderDefault,
  waitForCondition,
} from './support.ts';

/** The release; its name contains the chart's, so every object is named `kinfer-helm[-…]`. */
const release = 'kinfer-helm';
const crds = ['modeldeployments.kinfer.dev', 'inferencejobs.kinfer.dev'];
/** The chart's RBAC object for each of config/rbac's, by name. */
const counterpart: Record<string, string> = {
  [release]: 'kinfer-operator',
  [`${release}-leader-election`]: 'kinfer-leader-election',
  [`${release}-edit`]: 'kinfer-edit',
  [`${release}-view`]: 'kinfer-view',
};

function helm(args: string[], timeoutMs = 240_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      helmBinary(),
      [...args, '--kubeconfig', e2eCluster().kubeconfig],
      { cwd: repoRoot, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`helm ${args.join(' ')}: ${stderr.trim() || error.message}`));
        else resolve(stdout);
      },
    );
  });
}

const operatorPods = (namespace: string) => podsOf(namespace, 'app.kubernetes.io/component=operator');

interface RbacObject extends Binding {
  rules?: unknown[];
  metadata: Binding['metadata'] & { labels?: Record<string, string> };
}

/** What an RBAC object grants, with the chart's names mapped to config/rbac's and its own labels left out. */
function grants(object: RbacObject): object {
  const aggregation = Object.entries(object.metadata.labels ?? {}).filter(([key]) =>
    key.startsWith('rbac.authorization.k8s.io/'),
  );
  const name = (value: string) => counterpart[value] ?? value;
  return {
    kind: object.kind,
    name: name(object.metadata.name),
    aggregation: Object.fromEntries(aggregation),
    rules: object.rules,
    roleRef: object.roleRef ? { kind: object.roleRef.kind, name: name(object.roleRef.name) } : undefined,
  };
}

// `helm install` of charts/kinfer, image overridden to the one built from the Dockerfile, does what
// the kustomize install does: the operator runs on the real node under the chart's RBAC (the same
// grants as config/rbac), holds its Lease and reconciles a ModelDeployment to Ready. `helm
// uninstall` then removes what the release installed and, as Helm documents for a chart's crds/
// directory, leaves the CRDs (and so every ModelDeployment and what it runs).
//
// One operator at a time: the kustomize install's Deployment (other files install it) is deleted
// first and put back at the end, and the CRDs are deleted so that the chart's crds/ install them.
describe('helm install charts/kinfer', () => {
  const namespace = useE2eNamespace('helm');
  const serviceAccount = () => `system:serviceaccount:${namespace()}:${release}`;
  let installed = false;

  beforeAll(async () => {
    await kubectl(['delete', 'deployment', '-n', operatorNamespace, 'kinfer-operator', '--ignore-not-found']);
    await waitFor('no kustomize-installed operator pod', async () =>
      (await operatorPods(operatorNamespace)).length === 0 ? true : undefined,
    );
    await kubectl(['delete', 'crd', ...crds, '--ignore-not-found', '--wait=true'], { timeoutMs: 120_000 });
  });

  afterAll(async () => {
    if (installed) await helm(['uninstall', release, '--namespace', namespace(), '--wait']).catch(() => {});
    // The kustomize install as the other files expect it (CRDs, RBAC, operator).
    await installOperator();
  });

  it('installs the CRDs from crds/ and runs the operator of the built image, Ready on the real node', async () => {
    const image = e2eCluster().image;
    const colon = image.lastIndexOf(':');
    const started = Date.now();
    await helm([
      'install',
      release,
      'charts/kinfer',
      '--namespace',
      namespace(),
      '--set',
      `image.repository=${image.slice(0, colon)}`,
      '--set',
      `image.tag=${image.slice(colon + 1)}`,
      '--wait',
      '--timeout',
      '180s',
    ]);
    installed = true;
    const elapsedMs = Date.now() - started;
    process.stderr.write(`e2e helm: helm install --wait to a Ready operator in ${elapsedMs} ms\n`);

    for (const crd of crds) {
      const live = await getJson<{ status: { conditions: { type: string; status: string }[] } }>([
        'get',
        'crd',
        crd,
      ]);
      expect(live.status.conditions.find((c) => c.type === 'Established')?.status).toBe('True');
    }
    // Not part of the release: crds/ is installed once, outside the release's manifest.
    expect(await helm(['get', 'manifest', release, '--namespace', namespace()])).not.toContain(
      'kind: CustomResourceDefinition',
    );

    const [pod, ...others] = await operatorPods(namespace());
    expect(others).toEqual([]);
    expect(pod?.spec?.nodeName).toBe(e2eCluster().node.name);
    expect(pod?.status?.containerStatuses?.[0]?.ready).toBe(true);
    const spec = await getJson<{
      spec: { serviceAccountName: string; containers: { image: string }[] };
      metadata: { annotations: Record<string, string> };
    }>(['get', 'pod', '-n', namespace(), pod?.metadata.name ?? '']);
    expect(spec.spec.serviceAccountName).toBe(release);
    expect(spec.spec.containers[0]?.image).toBe(image);
    // Predictors and runners get the operator's own image.
    expect(spec.metadata.annotations['kinfer.dev/image']).toBe(image);
  });

  it("grants through the chart's RBAC exactly what config/rbac grants", async () => {
    const config = parseAllDocuments(await renderDefault()).map((doc) => doc.toJSON()) as RbacObject[];
    const rbacKinds = ['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];
    const expected = config
      .filter((o) => rbacKinds.includes(o.kind))
      .map(grants)
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    const live: RbacObject[] = [];
    for (const kind of rbacKinds) {
      const scope = kind.startsWith('Cluster') ? [] : ['-n', namespace()];
      const items = (
        await getJson<{ items: RbacObject[] }>([
          'get',
          kind.toLowerCase(),
          ...scope,
          '-l',
          `app.kubernetes.io/instance=${release}`,
        ])
      ).items;
      live.push(...items.map((item) => ({ ...item, kind })));
    }
    expect(live.map(grants).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual(
      expected,
    );

    // Bound to the release's ServiceAccount, and nothing else is.
    const line = (o: Binding) => `${o.kind} -> ${counterpart[o.roleRef.name] ?? o.roleRef.name}`;
    const configBindings = config
      .filter((o) => bindsServiceAccount(o, operatorNamespace, 'kinfer-operator'))
      .map(line)
      .sort();
    expect((await liveBindingsOf(namespace(), release)).map(line).sort()).toEqual(configBindings);

    const can = (verb: string, group: string, resource: string) =>
      allowed(serviceAccount(), 'default', verb, group, resource);
    expect(await can('patch', 'apps', 'deployments')).toBe(true);
    expect(await can('create', 'batch', 'jobs')).toBe(true);
    expect(await can('get', '', 'secrets')).toBe(false);
    expect(await can('delete', 'apps', 'deployments')).toBe(false);
  });

  it('holds its Lease in the release namespace, renewed by the running pod', async () => {
    const [pod] = await operatorPods(namespace());
    const lease = await leaseHeldAndRenewed(namespace(), pod?.metadata.name ?? '');
    expect(Date.parse(lease.renewed)).toBeGreaterThan(Date.parse(lease.first));
  });

  it('reconciles a ModelDeployment to Ready: a predictor pod on the real node passes its probes', async () => {
    const started = Date.now();
    await apply(namespace(), {
      apiVersion: 'kinfer.dev/v1alpha1',
      kind: 'ModelDeployment',
      metadata: { name: 'mnist' },
      spec: { model: { name: 'mnist-cnn', source: { builtin: 'mnist-cnn' } }, replicas: 1 },
    });
    const md = await waitForCondition(namespace(), 'md', 'mnist', readyWith(1), 'Ready');
    process.stderr.write(`e2e helm: md/mnist applied to Ready in ${Date.now() - started} ms\n`);
    expect(md.status?.endpoints?.rest).toBe(`http://mnist.${namespace()}.svc.cluster.local:8080`);
    const [predictor] = await podsOf(namespace(), 'app.kubernetes.io/instance=mnist');
    expect(predictor?.spec?.nodeName).toBe(e2eCluster().node.name);
    expect(predictor?.status?.containerStatuses?.[0]?.ready).toBe(true);
  });

  it('helm uninstall removes what the release installed and leaves the CRDs and the ModelDeployments', async () => {
    const manifest = parseAllDocuments(await helm(['get', 'manifest', release, '--namespace', namespace()]))
      .map((doc) => doc.toJSON() as { kind: string; metadata: { name: string } } | null)
      .filter((o) => o !== null)
      .map((o) => `${o.kind}/${o.metadata.name}`)
      .sort();
    expect(manifest).toEqual([
      `ClusterRole/${release}`,
      `ClusterRole/${release}-edit`,
      `ClusterRole/${release}-view`,
      `ClusterRoleBinding/${release}`,
      `Deployment/${release}`,
      `Role/${release}-leader-election`,
      `RoleBinding/${release}-leader-election`,
      `Service/${release}-metrics`,
      `ServiceAccount/${release}`,
    ]);

    await helm(['uninstall', release, '--namespace', namespace(), '--wait']);
    installed = false;
    const left = await kubectl([
      'get',
      'deployments,services,serviceaccounts,roles,rolebindings,clusterroles,clusterrolebindings',
      '-A',
      '-l',
      `app.kubernetes.io/instance=${release}`,
      '-o',
      'name',
    ]);
    expect(left.trim()).toBe('');
    await waitFor('the operator pod gone', async () =>
      (await operatorPods(namespace())).length === 0 ? true : undefined,
    );
    expect(await allowed(serviceAccount(), 'default', 'patch', 'apps', 'deployments')).toBe(false);

    // Helm never deletes what a chart's crds/ installed: the CRDs stay, and with them the
    // ModelDeployment and the predictor it runs (delete the CRDs yourself to remove every one).
    for (const crd of crds) await kubectl(['get', 'crd', crd]);
    await kubectl(['get', 'md', '-n', namespace(), 'mnist']);
    const [predictor] = await podsOf(namespace(), 'app.kubernetes.io/instance=mnist');
    expect(predictor?.status?.containerStatuses?.[0]?.ready).toBe(true);
  });
});
