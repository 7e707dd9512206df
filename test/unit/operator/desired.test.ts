import { describe, expect, it } from 'vitest';
import {
  defaultPredictorConfig,
  desiredDeployment,
  desiredService,
  PRESTOP_SLEEP_SECONDS,
  selectorString,
} from '../../../src/operator/modeldeployment/desired.ts';
import { md } from './fixtures.ts';

const sha = 'a'.repeat(64);

const builtin = { model: { name: 'mnist-cnn', source: { builtin: 'mnist-cnn' } } };
const env = (deployment: ReturnType<typeof desiredDeployment>) =>
  Object.fromEntries(
    (deployment.spec?.template.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]),
  );

describe('desiredDeployment', () => {
  it('labels, selects and owns its pods', () => {
    const deployment = desiredDeployment(md(builtin), defaultPredictorConfig);
    const selector = {
      'app.kubernetes.io/name': 'kinfer',
      'app.kubernetes.io/instance': 'mnist',
      'app.kubernetes.io/component': 'predictor',
    };
    expect(deployment.metadata).toMatchObject({
      name: 'mnist',
      namespace: 'ml',
      labels: { ...selector, 'app.kubernetes.io/managed-by': 'kinfer-operator' },
      ownerReferences: [
        {
          apiVersion: 'kinfer.dev/v1alpha1',
          kind: 'ModelDeployment',
          name: 'mnist',
          uid: 'uid-1',
          controller: true,
        },
      ],
    });
    expect(deployment.spec?.selector.matchLabels).toEqual(selector);
    expect(deployment.spec?.template.metadata?.labels).toMatchObject(selector);
    expect(selectorString('mnist')).toBe(
      'app.kubernetes.io/component=predictor,app.kubernetes.io/instance=mnist,app.kubernetes.io/name=kinfer',
    );
  });

  it('probes readiness on the V2 ready endpoint and liveness on /healthz, on the spec port', () => {
    const deployment = desiredDeployment(md({ ...builtin, server: { port: 9000 } }), defaultPredictorConfig);
    const container = deployment.spec!.template.spec!.containers[0]!;
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/v2/health/ready', port: 'http' });
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.ports).toEqual([{ name: 'http', containerPort: 9000, protocol: 'TCP' }]);
    expect(env(deployment).KINFER_PORT).toBe('9000');
  });

  it('tells the runtime its pod name, so every answer says which replica served it', () => {
    const deployment = desiredDeployment(md(builtin), defaultPredictorConfig);
    expect(env(deployment).KINFER_POD_NAME).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
  });

  it('keeps a terminating predictor serving until kube-proxy has dropped it, then drains', () => {
    const pod = desiredDeployment(md(builtin), defaultPredictorConfig).spec!.template.spec!;
    expect(pod.containers[0]!.lifecycle).toEqual({ preStop: { sleep: { seconds: PRESTOP_SLEEP_SECONDS } } });
    // The sleep and the runtime's 20 s drain fit in the grace period (Kubernetes' default 30 s).
    expect(pod.terminationGracePeriodSeconds ?? 30).toBeGreaterThanOrEqual(PRESTOP_SLEEP_SECONDS + 20 + 1);
  });

  it('runs under the restricted pod security standard', () => {
    const pod = desiredDeployment(md(builtin), defaultPredictorConfig).spec!.template.spec!;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.automountServiceAccountToken).toBe(false);
    for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
      expect(container.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
      });
    }
  });

  it.each([
    {
      what: 'builtin model from the image path',
      spec: builtin,
      model: '/app/models/mnist-cnn/model.onnx',
      init: undefined,
      volume: undefined,
    },
    {
      what: 'the other builtin model, chosen by spec.model.source.builtin',
      spec: { model: { name: 'digits', source: { builtin: 'mnist-small' } } },
      model: '/app/models/mnist-small/model.onnx',
      init: undefined,
      volume: undefined,
    },
    {
      what: 'uri through the fetch-model init container with its sha256',
      spec: { model: { name: 'digits', source: { uri: 'https://example.com/m.onnx' }, sha256: sha } },
      model: '/models/model.onnx',
      init: [
        'fetch-model',
        '--uri',
        'https://example.com/m.onnx',
        '--sha256',
        sha,
        '--out',
        '/models/model.onnx',
      ],
      volume: { name: 'model', emptyDir: { sizeLimit: '1Gi' } },
    },
    {
      what: 'configMap mounted as a volume',
      spec: { model: { name: 'digits', source: { configMap: { name: 'weights', key: 'cnn.onnx' } } } },
      model: '/models/model.onnx',
      init: undefined,
      volume: {
        name: 'model',
        configMap: { name: 'weights', items: [{ key: 'cnn.onnx', path: 'model.onnx' }] },
      },
    },
  ])('model source: $what', ({ spec, model, init, volume }) => {
    const deployment = desiredDeployment(md(spec), defaultPredictorConfig);
    const pod = deployment.spec!.template.spec!;
    expect(env(deployment).KINFER_MODEL).toBe(model);
    expect(pod.initContainers?.[0]?.args).toEqual(init);
    expect(pod.volumes?.find((v) => v.name === 'model')).toEqual(volume);
  });

  it('passes batching and server settings to kinfer runtime as KINFER_* variables', () => {
    const deployment = desiredDeployment(
      md({
        ...builtin,
        model: { ...builtin.model, sha256: sha },
        batching: { maxBatchSize: 64, maxDelayMs: 5 },
        server: { maxConnections: 50, authSecretRef: { name: 'token' } },
      }),
      defaultPredictorConfig,
    );
    expect(deployment.spec!.template.spec!.containers[0]!.args).toEqual(['runtime']);
    expect(env(deployment)).toMatchObject({
      KINFER_MODEL_NAME: 'mnist-cnn',
      KINFER_SHA256: sha,
      KINFER_MAX_BATCH_SIZE: '64',
      KINFER_MAX_DELAY_MS: '5',
      KINFER_MAX_CONNECTIONS: '50',
      KINFER_AUTH_TOKEN_FILE: '/var/run/secrets/kinfer/token',
    });
    const pod = deployment.spec!.template.spec!;
    expect(pod.volumes).toContainEqual({
      name: 'auth-token',
      secret: { secretName: 'token', items: [{ key: 'token', path: 'token' }] },
    });
    expect(pod.containers[0]!.volumeMounts).toContainEqual({
      name: 'auth-token',
      mountPath: '/var/run/secrets/kinfer',
      readOnly: true,
    });
  });

  it('passes only the spec.server.limits and .timeouts set, as the runtime’s own KINFER_* variables', () => {
    const baseline = new Set(Object.keys(env(desiredDeployment(md(builtin), defaultPredictorConfig))));
    const runtimeEnv = (server: Record<string, unknown>) =>
      Object.entries(env(desiredDeployment(md({ ...builtin, server }), defaultPredictorConfig))).filter(
        ([name]) => !baseline.has(name),
      );
    expect(runtimeEnv({})).toEqual([]);
    expect(runtimeEnv({ limits: {}, timeouts: {} })).toEqual([]);
    expect(
      runtimeEnv({
        limits: { maxStrokes: 512, bodyLimit: 1_048_576, maxCoordinate: 2.5e5 },
        timeouts: { requestTimeoutMs: 300_000 },
      }),
    ).toEqual([
      ['KINFER_MAX_STROKES', '512'],
      ['KINFER_MAX_COORDINATE', '250000'],
      ['KINFER_BODY_LIMIT', '1048576'],
      ['KINFER_REQUEST_TIMEOUT_MS', '300000'],
    ]);
  });

  it('rolls the pods when a limit changes: the value is in the pod template', () => {
    const template = (maxStrokes: number) =>
      desiredDeployment(md({ ...builtin, server: { limits: { maxStrokes } } }), defaultPredictorConfig).spec
        ?.template;
    expect(template(300)).not.toEqual(template(301));
    expect(template(300)).toEqual(template(300));
  });

  it('takes image, replicas and resources from the spec, else the operator config', () => {
    const config = { ...defaultPredictorConfig, image: 'registry/kinfer:1' };
    const defaulted = desiredDeployment(md(builtin), config);
    expect(defaulted.spec?.replicas).toBe(1);
    expect(defaulted.spec!.template.spec!.containers[0]!.image).toBe('registry/kinfer:1');
    // The default a user gets without spec.resources: room for the full attack mix of bench:stall.
    expect(defaulted.spec!.template.spec!.containers[0]!.resources).toEqual({
      requests: { cpu: '250m', memory: '256Mi' },
      limits: { memory: '1Gi' },
    });
    const set = desiredDeployment(
      md({ ...builtin, replicas: 4, image: 'mine:2', resources: { limits: { cpu: 2, memory: '1Gi' } } }),
      config,
    );
    expect(set.spec?.replicas).toBe(4);
    expect(set.spec!.template.spec!.containers[0]!.image).toBe('mine:2');
    expect(set.spec!.template.spec!.containers[0]!.resources).toEqual({
      limits: { cpu: '2', memory: '1Gi' },
    });
    // spec.resources replaces the defaults whole: no default request or limit is merged in.
    const requestsOnly = desiredDeployment(
      md({ ...builtin, resources: { requests: { memory: '2Gi' } } }),
      config,
    );
    expect(requestsOnly.spec!.template.spec!.containers[0]!.resources).toEqual({
      requests: { memory: '2Gi' },
    });
  });

  it('gives each Deployment its own copy of the default resources', () => {
    const first = desiredDeployment(md(builtin), defaultPredictorConfig);
    first.spec!.template.spec!.containers[0]!.resources!.limits!.memory = '1Mi';
    expect(
      desiredDeployment(md(builtin), defaultPredictorConfig).spec!.template.spec!.containers[0]!.resources,
    ).toEqual({ requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '1Gi' } });
  });

  it('is deterministic: no timestamps, the same object every time', () => {
    const a = JSON.stringify(desiredDeployment(md(builtin), defaultPredictorConfig));
    const b = JSON.stringify(desiredDeployment(md(builtin), defaultPredictorConfig));
    expect(a).toBe(b);
    expect(a).not.toMatch(/\d{4}-\d{2}-\d{2}T/);
  });
});

describe('desiredService', () => {
  it('exposes the predictor port by name and selects the pods', () => {
    const service = desiredService(md({ ...builtin, server: { port: 9000 } }));
    expect(service.spec).toEqual({
      type: 'ClusterIP',
      selector: {
        'app.kubernetes.io/name': 'kinfer',
        'app.kubernetes.io/instance': 'mnist',
        'app.kubernetes.io/component': 'predictor',
      },
      ports: [{ name: 'http', port: 9000, targetPort: 'http', protocol: 'TCP' }],
    });
    expect(service.metadata?.ownerReferences?.[0]?.uid).toBe('uid-1');
  });
});
