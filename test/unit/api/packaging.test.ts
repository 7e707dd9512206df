import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { parseInferenceJob, parseModelDeployment } from '../../../src/api/index.ts';
import { helm } from './helm.ts';

const root = join(import.meta.dirname, '..', '..', '..');
type Doc = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  [k: string]: unknown;
};
const docs = (text: string): Doc[] =>
  parseAllDocuments(text)
    .map((d) => d.toJSON() as Doc | null)
    .filter((d): d is Doc => d !== null);
const kustomize = (dir: string): Doc[] => {
  const result = spawnSync('kubectl', ['kustomize', join(root, dir)], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir}: ${result.stderr}`);
  return docs(result.stdout);
};
interface PodTemplate {
  metadata: { annotations: Record<string, string> };
  spec: {
    securityContext: Record<string, unknown>;
    containers: {
      image: string;
      args: string[];
      env: unknown[];
      securityContext: unknown;
      livenessProbe: { httpGet: { path: string } };
      readinessProbe: { httpGet: { path: string } };
      resources: { requests?: unknown };
    }[];
  };
}
const templateOf = (objects: Doc[]): PodTemplate =>
  (objects.find((o) => o.kind === 'Deployment') as unknown as { spec: { template: PodTemplate } }).spec
    .template;
const rulesOf = (objects: Doc[], name: string) =>
  (
    objects.find((o) => o.kind === 'ClusterRole' && o.metadata.name === name) as
      | { rules: unknown[] }
      | undefined
  )?.rules;

describe('config/samples', () => {
  const files = readdirSync(join(root, 'config/samples')).filter((f) => f.startsWith('kinfer_'));

  it('has a minimal and a full example of each kind, all listed in the kustomization', () => {
    expect(files.sort()).toEqual([
      'kinfer_v1alpha1_inferencejob_full.yaml',
      'kinfer_v1alpha1_inferencejob_minimal.yaml',
      'kinfer_v1alpha1_modeldeployment_full.yaml',
      'kinfer_v1alpha1_modeldeployment_minimal.yaml',
    ]);
    expect(
      parse(readFileSync(join(root, 'config/samples/kustomization.yaml'), 'utf8')).resources.sort(),
    ).toEqual(files);
  });

  it.each(files)('%s passes the API schema', (file) => {
    for (const doc of docs(readFileSync(join(root, 'config/samples', file), 'utf8'))) {
      if (doc.kind === 'ModelDeployment') expect(() => parseModelDeployment(doc)).not.toThrow();
      else if (doc.kind === 'InferenceJob') expect(() => parseInferenceJob(doc)).not.toThrow();
      else expect(doc.kind).toBe('Secret');
    }
  });

  it('the full ModelDeployment sets every spec field a user can write (image aside)', () => {
    const full = docs(
      readFileSync(join(root, 'config/samples/kinfer_v1alpha1_modeldeployment_full.yaml'), 'utf8'),
    ).find((d) => d.kind === 'ModelDeployment') as unknown as { spec: Record<string, unknown> };
    expect(Object.keys(full.spec).sort()).toEqual(['batching', 'model', 'replicas', 'resources', 'server']);
  });

  it("the full sample's sha256 is the bundled model's", () => {
    const full = docs(
      readFileSync(join(root, 'config/samples/kinfer_v1alpha1_modeldeployment_full.yaml'), 'utf8'),
    ).find((d) => d.kind === 'ModelDeployment') as unknown as { spec: { model: { sha256: string } } };
    const committed = readFileSync(join(root, 'models/mnist-cnn/model.onnx.sha256'), 'utf8').split(/\s+/)[0];
    expect(full.spec.model.sha256).toBe(committed);
  });

  it('every InferenceJob refers to a ModelDeployment among the samples', () => {
    const all = kustomize('config/samples');
    const deployments = new Set(all.filter((d) => d.kind === 'ModelDeployment').map((d) => d.metadata.name));
    for (const job of all.filter((d) => d.kind === 'InferenceJob')) {
      expect(deployments).toContain(
        (job as unknown as { spec: { modelDeploymentRef: { name: string } } }).spec.modelDeploymentRef.name,
      );
    }
  });
});

describe('config/default (kustomize)', () => {
  const objects = kustomize('config/default');

  it('installs CRDs, RBAC, the operator and its metrics Service into kinfer-system', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'ClusterRole/kinfer-edit',
      'ClusterRole/kinfer-operator',
      'ClusterRole/kinfer-view',
      'ClusterRoleBinding/kinfer-operator',
      'CustomResourceDefinition/inferencejobs.kinfer.dev',
      'CustomResourceDefinition/modeldeployments.kinfer.dev',
      'Deployment/kinfer-operator',
      'Namespace/kinfer-system',
      'Role/kinfer-leader-election',
      'RoleBinding/kinfer-leader-election',
      'Service/kinfer-operator-metrics',
      'ServiceAccount/kinfer-operator',
    ]);
    const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition');
    for (const crd of crds) {
      expect(crd).toEqual(
        parse(readFileSync(join(root, 'crds', `kinfer.dev_${crd.metadata.name.split('.')[0]}.yaml`), 'utf8')),
      );
    }
  });

  it('runs the operator hardened: non-root, read-only root, no capabilities, RuntimeDefault seccomp, probes', () => {
    const template = templateOf(objects);
    const pod = template.spec;
    const container = pod.containers[0]!;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.resources.requests).toBeDefined();
    // The default predictor image follows the operator's image.
    expect(template.metadata.annotations['kinfer.dev/image']).toBe(container.image);
    expect(container.image).toBe('ghcr.io/kinfer-dev/kinfer:0.1.0');
  });
});

describe('charts/kinfer', () => {
  it('passes helm lint --strict', () => {
    expect(helm(['lint', 'charts/kinfer', '--strict'])).toContain('0 chart(s) failed');
  });

  it('renders the same operator RBAC as config/rbac, and the CRDs of crds/', () => {
    const rendered = docs(
      helm(['template', 'kinfer', 'charts/kinfer', '--namespace', 'kinfer-system', '--include-crds']),
    );
    const config = kustomize('config/default');
    expect(rulesOf(rendered, 'kinfer')).toEqual(rulesOf(config, 'kinfer-operator'));
    expect(rulesOf(rendered, 'kinfer-edit')).toEqual(rulesOf(config, 'kinfer-edit'));
    expect(rulesOf(rendered, 'kinfer-view')).toEqual(rulesOf(config, 'kinfer-view'));
    const crds = rendered.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name);
    expect(crds.sort()).toEqual(['inferencejobs.kinfer.dev', 'modeldeployments.kinfer.dev']);
    const deployment = rendered.find((o) => o.kind === 'Deployment') as unknown as {
      metadata: { namespace: string };
      spec: { template: { spec: { containers: { image: string; args: string[] }[] } } };
    };
    expect(deployment.metadata.namespace).toBe('kinfer-system');
    expect(deployment.spec.template.spec.containers[0]).toMatchObject({
      image: 'ghcr.io/kinfer-dev/kinfer:0.1.0',
      args: ['operator', '--leader-elect'],
    });
  });

  it('binds the role per namespace when watchNamespaces is set, and renders the optional objects', () => {
    const rendered = docs(
      helm([
        'template',
        'kinfer',
        'charts/kinfer',
        '--namespace',
        'kinfer-system',
        '--set',
        'watchNamespaces={team-a,team-b}',
        '--set',
        'metrics.serviceMonitor.enabled=true',
        '--set',
        'networkPolicy.enabled=true',
        '--set',
        'image.tag=dev',
      ]),
    );
    expect(rendered.filter((o) => o.kind === 'ClusterRoleBinding')).toEqual([]);
    const bindings = rendered.filter((o) => o.kind === 'RoleBinding' && o.metadata.name === 'kinfer');
    expect(bindings.map((b) => b.metadata.namespace)).toEqual(['team-a', 'team-b']);
    expect(rendered.map((o) => o.kind)).toEqual(expect.arrayContaining(['ServiceMonitor', 'NetworkPolicy']));
    const template = templateOf(rendered);
    expect(template.spec.containers[0]!.env).toContainEqual({
      name: 'KINFER_NAMESPACES',
      value: 'team-a,team-b',
    });
    expect(template.metadata.annotations['kinfer.dev/image']).toBe('ghcr.io/kinfer-dev/kinfer:dev');
  });

  it('rejects values outside values.schema.json, naming the value', () => {
    expect(() => helm(['template', 'kinfer', 'charts/kinfer', '--set', 'replicaCount=-1'])).toThrow(
      /replicaCount/,
    );
    expect(() => helm(['template', 'kinfer', 'charts/kinfer', '--set', 'imageTag=x'])).toThrow(/imageTag/);
  });
});
