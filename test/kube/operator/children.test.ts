import { describe, expect, it } from 'vitest';
import { testKubeconfigPath } from '../../support/kube.ts';
import {
  conditionsOf,
  type Json,
  kubectl,
  kubectlApply,
  kubectlJson,
  modelDeployment,
  until,
  useTestOperator,
} from './support.ts';

// How the operator treats its children on a real apiserver: a field removed from the spec leaves
// the child (server-side apply drops what its manager no longer applies), fields other managers
// set stay, nothing is written while nothing changed, and an object of the same name that is not
// the ModelDeployment's is never taken over.
const { namespace, operator } = useTestOperator('op-children');
const kubeconfig = testKubeconfigPath;

const get = (kind: string, name: string): Promise<Json> =>
  kubectlJson(kubeconfig(), ['get', '-n', namespace(), kind, name]);
const predictor = (deployment: Json): Json => deployment.spec.template.spec.containers[0];
const envNames = (deployment: Json): string[] => predictor(deployment).env.map((e: Json) => e.name);
const writes = () => operator().metrics.writeCount(['events']);
const sha = 'b'.repeat(64);

describe('children of a ModelDeployment', () => {
  it('removes from the child a resources key, an env entry and an annotation removed from the spec', async () => {
    const full = modelDeployment('drift', namespace(), {
      model: { name: 'mnist-cnn', source: { builtin: 'mnist-cnn' }, sha256: sha },
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '256Mi' } },
    });
    await kubectlApply(kubeconfig(), [full]);
    const before = await until('the Deployment with everything the spec asks for', async () => {
      const d = await get('deployment', 'drift');
      return predictor(d).resources.limits?.cpu ? d : undefined;
    });
    expect(envNames(before)).toContain('KINFER_SHA256');
    expect(before.spec.template.metadata.annotations).toMatchObject({ 'kinfer.dev/model-sha256': sha });
    // Another manager's fields, which kinfer does not own: they must survive every apply.
    await kubectl(kubeconfig(), ['annotate', '-n', namespace(), 'deployment', 'drift', 'team=blue']);
    await kubectl(kubeconfig(), ['label', '-n', namespace(), 'service', 'drift', 'cost-center=42']);

    // One at a time: any apply removes every field it no longer carries, so a change that
    // triggers an apply (a shorter env list) would hide a removal that triggers none.
    const resources = { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } };
    await kubectlApply(kubeconfig(), [
      modelDeployment('drift', namespace(), {
        model: { name: 'mnist-cnn', source: { builtin: 'mnist-cnn' }, sha256: sha },
        resources,
      }),
    ]);
    const trimmed = await until('the removed resources key to leave the Deployment', async () => {
      const d = await get('deployment', 'drift');
      return !predictor(d).resources.limits?.cpu ? d : undefined;
    });
    expect(predictor(trimmed).resources).toEqual(resources);

    await kubectlApply(kubeconfig(), [modelDeployment('drift', namespace(), { resources })]);
    const after = await until('the env entry and the annotation to leave the Deployment', async () => {
      const d = await get('deployment', 'drift');
      return !envNames(d).includes('KINFER_SHA256') &&
        !d.spec.template.metadata.annotations?.['kinfer.dev/model-sha256']
        ? d
        : undefined;
    });
    expect(predictor(after).resources).toEqual(resources);
    expect(after.metadata.annotations).toMatchObject({ team: 'blue' });
    expect((await get('service', 'drift')).metadata.labels).toMatchObject({ 'cost-center': '42' });
  });

  it('writes nothing to its children while nothing changed', async () => {
    await kubectl(kubeconfig(), [
      'wait',
      '-n',
      namespace(),
      '--for=condition=Ready',
      'md/drift',
      '--timeout=60s',
    ]);
    const settled = await writes();
    const deployment = await get('deployment', 'drift');
    // Reconciles with nothing to do: an annotation on the ModelDeployment is a watch event each.
    for (const value of ['1', '2', '3']) {
      await kubectl(kubeconfig(), [
        'annotate',
        '--overwrite',
        '-n',
        namespace(),
        'md/drift',
        `poke=${value}`,
      ]);
    }
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(await writes()).toBe(settled);
    expect((await get('deployment', 'drift')).metadata.resourceVersion).toBe(
      deployment.metadata.resourceVersion,
    );
  });

  it.each([
    ['Deployment', 'deployment'],
    ['Service', 'service'],
  ])('never takes over a %s it does not control, and recovers once it is gone', async (kind, resource) => {
    const name = `taken-${resource}`;
    // Someone else's object, owned by one of their ConfigMaps (no kinfer labels, so no cache sees it).
    await kubectlApply(kubeconfig(), [
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${name}-owner`, namespace: namespace() } },
    ]);
    const owner = await get('configmap', `${name}-owner`);
    const ownerReferences = [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        name: `${name}-owner`,
        uid: owner.metadata.uid,
        controller: true,
      },
    ];
    const labels = { app: 'theirs' };
    const foreign =
      kind === 'Deployment'
        ? {
            apiVersion: 'apps/v1',
            kind,
            metadata: { name, namespace: namespace(), ownerReferences },
            spec: {
              replicas: 0,
              selector: { matchLabels: labels },
              template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'theirs:1' }] } },
            },
          }
        : {
            apiVersion: 'v1',
            kind,
            metadata: { name, namespace: namespace(), ownerReferences },
            spec: { selector: labels, ports: [{ port: 80 }] },
          };
    await kubectlApply(kubeconfig(), [foreign]);
    const theirs = await get(resource, name);
    await kubectlApply(kubeconfig(), [modelDeployment(name, namespace())]);
    const md = await until('a ChildConflict condition', async () => {
      const md = await get('md', name);
      return conditionsOf(md).Degraded?.reason === 'ChildConflict' ? md : undefined;
    });
    const degraded = conditionsOf(md).Degraded;
    expect(degraded.status).toBe('True');
    expect(degraded.message).toContain(`${kind} ${name}`);
    expect(degraded.message).toContain(`ConfigMap/${name}-owner`);
    expect(conditionsOf(md).Ready.status).not.toBe('True');
    // Nothing was written to their object.
    const still = await get(resource, name);
    expect(still.metadata.resourceVersion).toBe(theirs.metadata.resourceVersion);
    expect(still.metadata.ownerReferences).toEqual([expect.objectContaining({ uid: owner.metadata.uid })]);

    await kubectl(kubeconfig(), ['delete', '-n', namespace(), resource, name, '--wait=true']);
    await kubectl(kubeconfig(), [
      'wait',
      '-n',
      namespace(),
      '--for=condition=Ready',
      `md/${name}`,
      '--timeout=60s',
    ]);
    const ours = await get(resource, name);
    expect(ours.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'ModelDeployment', name, uid: md.metadata.uid, controller: true }),
    ]);
  });
});
