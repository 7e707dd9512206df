// The real `kinfer operator` running as its ServiceAccount, with only the RBAC of config/rbac:
// it must reconcile a ModelDeployment and an InferenceJob, elect a leader and record Events
// without a single forbidden request. This is what keeps the ClusterRole least-privilege AND enough.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { repoRoot } from '../../support/controlplane.ts';
import { testKubeConfig, testKubeconfigPath, useTestNamespace, waitFor } from '../../support/kube.ts';
import { freePort, OperatorProcess } from '../operator/support.ts';

const namespace = useTestNamespace('api-rbac');
let operator: OperatorProcess | undefined;

function kubectl(args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const result = spawnSync('kubectl', ['--kubeconfig', testKubeconfigPath(), ...args], {
    cwd: repoRoot,
    input,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}
function ok(args: string[], input?: string): string {
  const result = kubectl(args, input);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}
const json = (args: string[]) => JSON.parse(ok([...args, '-o', 'json']));

/** A kubeconfig for the same cluster that authenticates as the operator's ServiceAccount. */
function serviceAccountKubeconfig(): string {
  const admin = testKubeConfig();
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('admin kubeconfig has no cluster');
  const token = ok(['create', 'token', 'kinfer-operator', '-n', 'kinfer-system', '--duration=1h']).trim();
  const file = join(mkdtempSync(join(tmpdir(), 'kinfer-rbac-')), 'kubeconfig');
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'test',
          cluster: {
            server: cluster.server,
            ...(cluster.caData ? { 'certificate-authority-data': cluster.caData } : {}),
            ...(cluster.caFile ? { 'certificate-authority': cluster.caFile } : {}),
            ...(cluster.skipTLSVerify ? { 'insecure-skip-tls-verify': true } : {}),
          },
        },
      ],
      users: [{ name: 'kinfer-operator', user: { token } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'kinfer-operator' } }],
      'current-context': 'test',
    }),
  );
  return file;
}

beforeAll(async () => {
  kubectl(['create', 'namespace', 'kinfer-system']);
  ok(['apply', '--server-side', '--field-manager=kinfer-test', '-n', 'kinfer-system', '-k', 'config/rbac']);
  const kubeconfig = serviceAccountKubeconfig();
  const port = await freePort();
  operator = new OperatorProcess(kubeconfig, port, ['--leader-elect', '--namespaces', namespace()], {
    POD_NAMESPACE: 'kinfer-system',
  });
  const started = operator;
  await waitFor(
    `operator /healthz (logs: ${started.logs.slice(-1500)})`,
    async () =>
      (await started.get('/healthz').catch(() => ({ status: 0 }))).status === 200 ? true : undefined,
    { timeoutMs: 30_000 },
  );
});

afterAll(async () => {
  await operator?.stop('SIGTERM');
});

describe('the operator with only its own RBAC', () => {
  it('takes the lease in its namespace, reconciles a ModelDeployment and writes its status', async () => {
    ok([
      'apply',
      '--server-side',
      '--field-manager=kinfer-test',
      '-n',
      namespace(),
      '-f',
      'config/samples/kinfer_v1alpha1_modeldeployment_minimal.yaml',
    ]);
    const md = await waitFor(
      `status of md/mnist (operator logs: ${operator?.logs.slice(-1500)})`,
      async () => {
        const object = json(['get', 'md', 'mnist', '-n', namespace()]);
        return object.status?.observedGeneration === 1 && object.status?.conditions?.length >= 3
          ? object
          : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(md.status.conditions.map((c: { type: string }) => c.type)).toEqual(
      expect.arrayContaining(['Ready', 'Progressing', 'Degraded']),
    );
    // Children created by server-side apply, owned by the ModelDeployment.
    const deployment = json(['get', 'deployment', 'mnist', '-n', namespace()]);
    expect(deployment.metadata.ownerReferences[0]).toMatchObject({
      kind: 'ModelDeployment',
      name: 'mnist',
      controller: true,
    });
    json(['get', 'service', 'mnist', '-n', namespace()]);
    // kwok runs the predictor pods to Ready, so the whole ModelDeployment path completes.
    await waitFor(
      'md/mnist Ready',
      async () => {
        const object = json(['get', 'md', 'mnist', '-n', namespace()]);
        return object.status?.conditions?.some(
          (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True',
        )
          ? true
          : undefined;
      },
      { timeoutMs: 90_000 },
    );
    // Leader election and Events.
    const lease = json(['get', 'lease', 'kinfer-operator', '-n', 'kinfer-system']);
    expect(lease.spec.holderIdentity).toBeTruthy();
    await waitFor('an Event about md/mnist', async () => {
      const events = json([
        'get',
        'events',
        '-n',
        namespace(),
        '--field-selector',
        'involvedObject.name=mnist',
      ]);
      return events.items.length > 0 ? true : undefined;
    });
  });

  it('reconciles an InferenceJob into a Job and a preview Service, writing its status', async () => {
    ok([
      'apply',
      '--server-side',
      '--field-manager=kinfer-test',
      '-n',
      namespace(),
      '-f',
      'config/samples/kinfer_v1alpha1_inferencejob_minimal.yaml',
    ]);
    await waitFor(
      `status of ij/mnist-test (operator logs: ${operator?.logs.slice(-1500)})`,
      async () => {
        const object = json(['get', 'ij', 'mnist-test', '-n', namespace()]);
        return object.status?.conditions?.length > 0 ? object : undefined;
      },
      { timeoutMs: 60_000 },
    );
    // Its ModelDeployment is Ready: the runner Job and its preview Service are created.
    await waitFor('job/mnist-test', async () =>
      kubectl(['get', 'job', 'mnist-test', '-n', namespace()]).code === 0 ? true : undefined,
    );
    json(['get', 'service', 'mnist-test-preview', '-n', namespace()]);
  });

  it('never got a forbidden answer', () => {
    expect(operator?.logs ?? '').not.toMatch(/forbidden|\b403\b/i);
  });
});
