// The generated CRDs on a real kube-apiserver: established, samples apply, invalid objects are
// rejected naming the field, defaults and printer columns as users see them through kubectl.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseInferenceJob, parseModelDeployment } from '../../../src/api/index.ts';
import { repoRoot } from '../../support/controlplane.ts';
import { testKubeconfigPath, useTestNamespace, waitFor } from '../../support/kube.ts';
import { helm } from '../../unit/api/helm.ts';

const namespace = useTestNamespace('api');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}
function kubectl(args: string[], input?: string): Result {
  const result = spawnSync('kubectl', ['--kubeconfig', testKubeconfigPath(), ...args], {
    cwd: repoRoot,
    input,
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}
function ok(args: string[], input?: string): string {
  const result = kubectl(args, input);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}
const apply = (object: unknown): Result =>
  kubectl(
    ['apply', '--server-side', '--field-manager=kinfer-test', '-n', namespace(), '-f', '-'],
    stringify(object),
  );

const md = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'kinfer.dev/v1alpha1',
  kind: 'ModelDeployment',
  metadata: { name },
  spec,
});
const ij = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'kinfer.dev/v1alpha1',
  kind: 'InferenceJob',
  metadata: { name },
  spec,
});
const builtin = { name: 'mnist-cnn', source: { builtin: 'mnist-cnn' } };
const dataset = { modelDeploymentRef: { name: 'mnist' }, input: { dataset: 'mnist-test' } };

describe('CRDs on the apiserver', () => {
  it('are Established with their names accepted', () => {
    for (const crd of ['modeldeployments.kinfer.dev', 'inferencejobs.kinfer.dev']) {
      const conditions = JSON.parse(ok(['get', 'crd', crd, '-o', 'json'])).status.conditions as {
        type: string;
        status: string;
      }[];
      expect(conditions).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ type: 'Established', status: 'True' }),
          expect.objectContaining({ type: 'NamesAccepted', status: 'True' }),
        ]),
      );
      // The apiserver found nothing non-structural in the schema.
      expect(conditions.find((c) => c.type === 'NonStructuralSchema')).toBeUndefined();
    }
  });

  it('every sample applies with kubectl apply --server-side', () => {
    const out = ok([
      'apply',
      '--server-side',
      '--field-manager=kinfer-test',
      '-n',
      namespace(),
      '-k',
      'config/samples',
    ]);
    expect(out).toContain('modeldeployment.kinfer.dev/mnist serverside-applied');
    expect(out).toContain('modeldeployment.kinfer.dev/mnist-full serverside-applied');
    expect(out).toContain('inferencejob.kinfer.dev/mnist-test serverside-applied');
    expect(out).toContain('inferencejob.kinfer.dev/synthetic-digits serverside-applied');
  });

  it('applies the same defaults as the zod schemas', () => {
    for (const [kind, name, parse] of [
      ['md', 'mnist', parseModelDeployment],
      ['md', 'mnist-full', parseModelDeployment],
      ['ij', 'mnist-test', parseInferenceJob],
      ['ij', 'synthetic-digits', parseInferenceJob],
    ] as const) {
      const stored = JSON.parse(ok(['get', kind, name, '-n', namespace(), '-o', 'json']));
      // What the apiserver stored (its defaults applied) is a fixed point of the zod parse.
      expect(parse(stored).spec, `${kind}/${name}`).toEqual(stored.spec);
    }
    const stored = JSON.parse(ok(['get', 'md', 'mnist', '-n', namespace(), '-o', 'json']));
    expect(stored.spec).toEqual({
      model: builtin,
      replicas: 1,
      batching: { maxBatchSize: 32, maxDelayMs: 2 },
      server: { port: 8080, maxConnections: 1000 },
    });
  });

  it('kubectl get md,ij shows the printer columns', () => {
    const table = ok(['get', 'md,ij', '-n', namespace()]);
    expect(table).toMatch(/NAME\s+READY\s+REPLICAS\s+AVAILABLE\s+MODEL\s+ENDPOINT\s+AGE/);
    expect(table).toMatch(/modeldeployment\.kinfer\.dev\/mnist\s+1\s+mnist-cnn/);
    expect(table).toMatch(/NAME\s+PHASE\s+PERCENT\s+PROCESSED\s+TOTAL\s+MODEL\s+AGE/);
    expect(table).toMatch(/inferencejob\.kinfer\.dev\/mnist-test\s+mnist\s/);
    const wide = ok(['get', 'ij', '-n', namespace(), '-o', 'wide']);
    expect(wide).toMatch(/ACCURACY\s+PREVIEW\s+AGE/);
    // The kinfer category and the short names.
    expect(ok(['get', 'kinfer', '-n', namespace(), '-o', 'name']).split('\n').filter(Boolean).sort()).toEqual(
      [
        'inferencejob.kinfer.dev/mnist-test',
        'inferencejob.kinfer.dev/synthetic-digits',
        'modeldeployment.kinfer.dev/mnist',
        'modeldeployment.kinfer.dev/mnist-full',
      ],
    );
  });

  it('printer columns read the status the operator writes', () => {
    const status = {
      observedGeneration: 1,
      replicas: 1,
      readyReplicas: 1,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Available',
          message: '',
          lastTransitionTime: '2026-01-01T00:00:00Z',
        },
      ],
      endpoints: { rest: `http://mnist.${namespace()}.svc.cluster.local:8080` },
      selector:
        'app.kubernetes.io/component=predictor,app.kubernetes.io/instance=mnist,app.kubernetes.io/name=kinfer',
    };
    ok([
      'patch',
      'md',
      'mnist',
      '-n',
      namespace(),
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status }),
    ]);
    expect(ok(['get', 'md', 'mnist', '-n', namespace()])).toMatch(
      new RegExp(
        `mnist\\s+True\\s+1\\s+1\\s+mnist-cnn\\s+http://mnist\\.${namespace()}\\.svc\\.cluster\\.local:8080`,
      ),
    );
    const job = { phase: 'Running', progress: { processed: 640, total: 1000, percent: 64 } };
    ok([
      'patch',
      'ij',
      'mnist-test',
      '-n',
      namespace(),
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: job }),
    ]);
    expect(ok(['get', 'ij', 'mnist-test', '-n', namespace()])).toMatch(
      /mnist-test\s+Running\s+64\s+640\s+1000\s+mnist/,
    );
  });

  it('kubectl scale works through the scale subresource', () => {
    ok(['scale', 'md', 'mnist', '-n', namespace(), '--replicas=3']);
    expect(ok(['get', 'md', 'mnist', '-n', namespace(), '-o', 'jsonpath={.spec.replicas}'])).toBe('3');
    const scale = JSON.parse(
      ok([
        'get',
        '--raw',
        `/apis/kinfer.dev/v1alpha1/namespaces/${namespace()}/modeldeployments/mnist/scale`,
      ]),
    );
    expect(scale.spec.replicas).toBe(3);
    expect(scale.status.selector).toContain('app.kubernetes.io/instance=mnist');
  });

  it('kubectl explain shows the descriptions written for users', () => {
    // kubectl wraps descriptions to the terminal width.
    const batching = ok(['explain', 'modeldeployment.spec.batching']).replace(/\s+/g, ' ');
    expect(batching).toContain('Dynamic batching: requests arriving together share one model call.');
    expect(batching).toContain('maxBatchSize <integer>');
    expect(batching).toContain('Most images the predictor runs through the model in one call (1-1024).');
    expect(ok(['explain', 'inferencejob.spec.input']).replace(/\s+/g, ' ')).toContain(
      'Set exactly one of dataset, configMap, inline or synthetic',
    );
  });
});

describe('invalid objects are rejected, naming the field', () => {
  it.each([
    [
      'no model source',
      md('bad', { model: { name: 'm', source: {} } }),
      'spec.model.source',
      'exactly one model source must be set',
    ],
    [
      'two model sources',
      md('bad', { model: { name: 'm', source: { builtin: 'mnist-cnn', configMap: { name: 'c' } } } }),
      'spec.model.source',
      'exactly one model source must be set',
    ],
    [
      'a uri without sha256',
      md('bad', { model: { name: 'm', source: { uri: 'https://example.com/m.onnx' } } }),
      'spec.model.sha256',
      'sha256 is required',
    ],
    [
      'negative replicas',
      md('bad', { model: builtin, replicas: -1 }),
      'spec.replicas',
      'greater than or equal to 0',
    ],
    [
      'batch size 0',
      md('bad', { model: builtin, batching: { maxBatchSize: 0 } }),
      'spec.batching.maxBatchSize',
      'greater than or equal to 1',
    ],
    [
      'an unknown builtin model',
      md('bad', { model: { name: 'm', source: { builtin: 'resnet' } } }),
      'spec.model.source.builtin',
      'Unsupported value',
    ],
    [
      'a bad quantity',
      md('bad', { model: builtin, resources: { limits: { cpu: 'lots' } } }),
      'spec.resources.limits.cpu',
      '',
    ],
    [
      'a predictor memory request over its limit',
      md('bad', { model: builtin, resources: { requests: { memory: '2Gi' }, limits: { memory: '1Gi' } } }),
      'spec.resources.requests',
      'a request cannot exceed its limit',
    ],
    [
      'a name that cannot name a Service',
      md('9lives', { model: builtin }),
      'metadata.name must be a DNS-1035 label',
      '',
    ],
    [
      'an unknown field',
      md('bad', { model: builtin, replica: 2 }),
      'spec.replica',
      'field not declared in schema',
    ],
    [
      'an InferenceJob without input',
      ij('bad', { ...dataset, input: {} }),
      'spec.input',
      'exactly one input must be set',
    ],
    [
      'an InferenceJob with two inputs',
      ij('bad', { ...dataset, input: { dataset: 'mnist-test', synthetic: { count: 5 } } }),
      'spec.input',
      'exactly one input must be set',
    ],
    [
      'job batch size 0',
      ij('bad', { ...dataset, batchSize: 0 }),
      'spec.batchSize',
      'greater than or equal to 1',
    ],
    [
      'job batch size over the limit',
      ij('bad', { ...dataset, batchSize: 4096 }),
      'spec.batchSize',
      'less than or equal to 1024',
    ],
    [
      'a preview interval under the minimum',
      ij('bad', { ...dataset, previewIntervalMs: 10 }),
      'spec.previewIntervalMs',
      'greater than or equal to 100',
    ],
    [
      'a limit over the synthetic count',
      ij('bad', { ...dataset, input: { synthetic: { count: 5 }, limit: 6 } }),
      'spec.input.limit',
      'limit cannot exceed synthetic.count',
    ],
    [
      'a bad runner quantity',
      ij('bad', { ...dataset, runner: { resources: { limits: { memory: '64 MB' } } } }),
      'spec.runner.resources.limits.memory',
      '',
    ],
    [
      'a runner request over its limit',
      ij('bad', {
        ...dataset,
        runner: { resources: { requests: { memory: '1Gi' }, limits: { memory: '512Mi' } } },
      }),
      'spec.runner.resources.requests',
      'a request cannot exceed its limit',
    ],
    [
      'a runner cpu request over its limit, in other units',
      ij('bad', { ...dataset, runner: { resources: { requests: { cpu: '1500m' }, limits: { cpu: 1 } } } }),
      'spec.runner.resources.requests',
      'a request cannot exceed its limit',
    ],
    [
      'an unknown runner field',
      ij('bad', { ...dataset, runner: { image: 'other' } }),
      'spec.runner.image',
      'field not declared in schema',
    ],
    [
      'an unknown job field',
      ij('bad', { ...dataset, parallelism: 2 }),
      'spec.parallelism',
      'field not declared in schema',
    ],
  ])('%s', (_, object, field, message) => {
    const result = apply(object);
    expect(result.code, result.stdout).not.toBe(0);
    expect(result.stderr).toContain(field);
    expect(result.stderr).toContain(message);
    // The zod schemas (used by the operator and the CLI) reject it too; unknown fields are the
    // apiserver's job (zod strips them, like pruning).
    const parse = object.kind === 'ModelDeployment' ? parseModelDeployment : parseInferenceJob;
    if (!message.includes('not declared')) expect(() => parse(object)).toThrow();
  });

  it('accepts runner requests up to their limits, compared by value across units', () => {
    const object = ij('sized', {
      ...dataset,
      runner: {
        resources: { requests: { memory: '1024Mi', cpu: '500m' }, limits: { memory: '1Gi', cpu: 0.5 } },
      },
    });
    // 0.5 is no integer: the schema's int-or-string refuses it before any comparison.
    expect(apply(object).stderr).toContain('spec.runner.resources.limits.cpu');
    const fixed = ij('sized', {
      ...dataset,
      runner: {
        resources: { requests: { memory: '1024Mi', cpu: '500m' }, limits: { memory: '1Gi', cpu: '0.5' } },
      },
    });
    const result = apply(fixed);
    expect(result.code, result.stderr).toBe(0);
    expect(() => parseInferenceJob(fixed)).not.toThrow();
  });

  it("editing a job's spec is rejected; its status stays writable", () => {
    expect(apply(ij('immutable', dataset)).code).toBe(0);
    const edit = apply(ij('immutable', { ...dataset, batchSize: 32 }));
    expect(edit.code).not.toBe(0);
    expect(edit.stderr).toContain('spec is immutable: create a new InferenceJob instead');
    const status = { phase: 'Running', progress: { processed: 1, total: 2, percent: 50 } };
    ok([
      'patch',
      'ij',
      'immutable',
      '-n',
      namespace(),
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status }),
    ]);
    expect(ok(['get', 'ij', 'immutable', '-n', namespace(), '-o', 'jsonpath={.status.phase}'])).toBe(
      'Running',
    );
    // Metadata (labels, annotations) can still change.
    ok(['label', 'ij', 'immutable', '-n', namespace(), 'team=digits']);
  });

  it('rejects a status the operator could write wrong', () => {
    const bad = {
      conditions: [
        {
          type: 'Ready',
          status: 'Yes',
          reason: 'X',
          message: '',
          lastTransitionTime: '2026-01-01T00:00:00Z',
        },
      ],
    };
    expect(apply(md('status-check', { model: builtin })).code).toBe(0);
    const result = kubectl([
      'patch',
      'md',
      'status-check',
      '-n',
      namespace(),
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: bad }),
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('status.conditions[0].status');
  });
});

describe('install manifests against the apiserver', () => {
  it('helm template output applies with --dry-run=server', () => {
    const manifests = helm([
      'template',
      'kinfer',
      'charts/kinfer',
      '--namespace',
      namespace(),
      '--include-crds',
    ]);
    const out = ok(
      ['apply', '--server-side', '--dry-run=server', '--field-manager=kinfer-test', '-f', '-'],
      manifests,
    );
    expect(out).toContain('deployment.apps/kinfer serverside-applied (server dry run)');
    expect(out).toContain('clusterrole.rbac.authorization.k8s.io/kinfer serverside-applied (server dry run)');
    expect(out).toContain(
      'customresourcedefinition.apiextensions.k8s.io/modeldeployments.kinfer.dev serverside-applied (server dry run)',
    );
  });

  it('the kustomize default base applies with --dry-run=server', () => {
    // Its namespaced objects need kinfer-system to exist, even for a dry run.
    kubectl(['create', 'namespace', 'kinfer-system']);
    const out = ok([
      'apply',
      '--server-side',
      '--dry-run=server',
      '--field-manager=kinfer-test',
      '-k',
      join('config', 'default'),
    ]);
    expect(out).toContain('deployment.apps/kinfer-operator serverside-applied (server dry run)');
  });
});

describe('RBAC from config/rbac on the apiserver', () => {
  const operator = 'system:serviceaccount:kinfer-system:kinfer-operator';
  const canI = (as: string, verb: string, resource: string, ns?: string, subresource?: string): boolean => {
    const args = ['auth', 'can-i', verb, resource, `--as=${as}`, ...(ns ? ['-n', ns] : ['--all-namespaces'])];
    if (subresource) args.push(`--subresource=${subresource}`);
    return kubectl(args).stdout.trim() === 'yes';
  };

  it('grants the operator what it uses and nothing else', () => {
    kubectl(['create', 'namespace', 'kinfer-system']);
    ok(['apply', '--server-side', '--field-manager=kinfer-test', '-n', 'kinfer-system', '-k', 'config/rbac']);
    const allowed: [string, string, string?][] = [
      ['watch', 'modeldeployments.kinfer.dev'],
      ['delete', 'inferencejobs.kinfer.dev'],
      ['patch', 'modeldeployments.kinfer.dev', 'status'],
      ['patch', 'inferencejobs.kinfer.dev', 'status'],
      ['create', 'deployments.apps'],
      ['patch', 'deployments.apps'],
      ['patch', 'services'],
      ['create', 'jobs.batch'],
      ['list', 'pods'],
      ['get', 'services', 'proxy'],
      ['create', 'events'],
      ['get', 'configmaps'],
    ];
    for (const [verb, resource, sub] of allowed)
      expect(canI(operator, verb, resource, undefined, sub), `${verb} ${resource}`).toBe(true);
    const denied: [string, string][] = [
      ['get', 'secrets'],
      ['list', 'configmaps'],
      ['update', 'modeldeployments.kinfer.dev'],
      ['delete', 'deployments.apps'],
      ['create', 'pods'],
      ['create', 'pods/exec'],
    ];
    for (const [verb, resource] of denied)
      expect(canI(operator, verb, resource), `${verb} ${resource}`).toBe(false);
    // Leader election: leases only in the operator's own namespace.
    expect(canI(operator, 'update', 'leases.coordination.k8s.io', 'kinfer-system')).toBe(true);
    expect(canI(operator, 'update', 'leases.coordination.k8s.io', namespace())).toBe(false);
  });

  it('aggregates kinfer into the built-in edit and view roles', async () => {
    ok(['create', 'rolebinding', 'editor', '--clusterrole=edit', '--user=alice', '-n', namespace()]);
    ok(['create', 'rolebinding', 'viewer', '--clusterrole=view', '--user=bob', '-n', namespace()]);
    // Aggregation is done by the controller manager: wait until it has copied the rules.
    await waitFor(
      'the edit role to aggregate kinfer-edit',
      async () => (canI('alice', 'create', 'modeldeployments.kinfer.dev', namespace()) ? true : undefined),
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(canI('alice', 'create', 'modeldeployments.kinfer.dev', namespace())).toBe(true);
    expect(canI('alice', 'update', 'modeldeployments.kinfer.dev', namespace(), 'scale')).toBe(true);
    expect(canI('bob', 'list', 'inferencejobs.kinfer.dev', namespace())).toBe(true);
    expect(canI('bob', 'create', 'inferencejobs.kinfer.dev', namespace())).toBe(false);
  });
});
