import type {
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1Service,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import { type ContainerResources, DEFAULT_PREDICTOR_RESOURCES } from '../../api/default-resources.ts';
import type { ModelDeploymentSpec } from '../../api/modeldeployment.ts';
import { stringifyQuantities } from '../../api/quantity.ts';
import { childMetadata, type KubeObject } from '../../kube/resources.ts';
import { DEFAULT_IMAGE } from '../defaults.ts';
import { restrictedContainer, restrictedPod } from '../pod-security.ts';
import { runtimeSettingsEnv } from './runtime-env.ts';

/** The operator's own settings that shape every predictor (flags / env of `kinfer operator`). */
export interface PredictorConfig {
  /** Image used when spec.image is omitted. */
  image: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Where builtin models live inside the image: `<dir>/<name>/model.onnx`. */
  builtinModelsDir: string;
  /** Used when spec.resources is omitted. */
  defaultResources: ContainerResources;
}

export const defaultPredictorConfig: PredictorConfig = {
  image: DEFAULT_IMAGE,
  imagePullPolicy: 'IfNotPresent',
  builtinModelsDir: '/app/models',
  defaultResources: DEFAULT_PREDICTOR_RESOURCES,
};

/** The object the reconciler works on: metadata from the apiserver, spec parsed by the API's zod schema. */
export interface ParsedModelDeployment extends KubeObject {
  apiVersion: string;
  kind: string;
  spec: ModelDeploymentSpec;
}

export const MANAGED_BY = 'kinfer-operator';
const MODEL_DIR = '/models';
const AUTH_DIR = '/var/run/secrets/kinfer';
/** How long a terminating predictor keeps serving before it drains (see the preStop hook below). */
export const PRESTOP_SLEEP_SECONDS = 5;
/** The pod volume holding spec.server.authSecretRef; status names the Secret when it fails to mount. */
export const AUTH_VOLUME = 'auth-token';

/** Labels that select one ModelDeployment's predictor pods (the Deployment selector: immutable). */
export function selectorLabels(name: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'kinfer',
    'app.kubernetes.io/instance': name,
    'app.kubernetes.io/component': 'predictor',
  };
}

export function commonLabels(name: string): Record<string, string> {
  return { ...selectorLabels(name), 'app.kubernetes.io/managed-by': MANAGED_BY };
}

/** `key=value,...` sorted by key: status.selector, for the scale subresource and HPAs. */
export function selectorString(name: string): string {
  return Object.entries(selectorLabels(name))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

/** Where the predictor finds the model file, for each kind of source. */
export function modelPath(spec: ModelDeploymentSpec, config: PredictorConfig): string {
  const { source } = spec.model;
  if (source.builtin) return `${config.builtinModelsDir}/${source.builtin}/model.onnx`;
  return `${MODEL_DIR}/model.onnx`;
}

/**
 * The predictor Deployment for a ModelDeployment: pure, no I/O, nothing time-dependent (a
 * timestamp in the pod template would restart every pod on every reconcile).
 */
export function desiredDeployment(md: ParsedModelDeployment, config: PredictorConfig): V1Deployment {
  const name = md.metadata.name ?? '';
  const { spec } = md;
  const image = spec.image ?? config.image;
  const port = spec.server.port;
  const volumes: V1Volume[] = [{ name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } }];
  const mounts: V1VolumeMount[] = [{ name: 'tmp', mountPath: '/tmp' }];
  const initContainers: V1Container[] = [];
  const { source } = spec.model;

  if (source.uri) {
    volumes.push({ name: 'model', emptyDir: { sizeLimit: '1Gi' } });
    mounts.push({ name: 'model', mountPath: MODEL_DIR, readOnly: true });
    initContainers.push({
      name: 'fetch-model',
      image,
      imagePullPolicy: config.imagePullPolicy,
      args: [
        'fetch-model',
        '--uri',
        source.uri,
        '--sha256',
        spec.model.sha256 ?? '',
        '--out',
        `${MODEL_DIR}/model.onnx`,
      ],
      volumeMounts: [
        { name: 'model', mountPath: MODEL_DIR },
        { name: 'tmp', mountPath: '/tmp' },
      ],
      resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
      securityContext: restrictedContainer,
      terminationMessagePolicy: 'FallbackToLogsOnError',
    });
  } else if (source.configMap) {
    volumes.push({
      name: 'model',
      configMap: { name: source.configMap.name, items: [{ key: source.configMap.key, path: 'model.onnx' }] },
    });
    mounts.push({ name: 'model', mountPath: MODEL_DIR, readOnly: true });
  }

  const env: V1EnvVar[] = [
    { name: 'KINFER_HOST', value: '0.0.0.0' },
    { name: 'KINFER_PORT', value: String(port) },
    { name: 'KINFER_MODEL', value: modelPath(spec, config) },
    { name: 'KINFER_MODEL_NAME', value: spec.model.name },
    // The runtime refuses to serve a model whose digest differs (`kinfer runtime --sha256`).
    ...(spec.model.sha256 ? [{ name: 'KINFER_SHA256', value: spec.model.sha256 }] : []),
    { name: 'KINFER_MAX_BATCH_SIZE', value: String(spec.batching.maxBatchSize) },
    { name: 'KINFER_MAX_DELAY_MS', value: String(spec.batching.maxDelayMs) },
    { name: 'KINFER_MAX_CONNECTIONS', value: String(spec.server.maxConnections) },
    // spec.server.limits and .timeouts: only those set, so the rest keep the runtime's defaults.
    ...runtimeSettingsEnv(spec.server),
    // Every answer names the pod that served it (`kinfer-pod` header): which replica behind the Service.
    { name: 'KINFER_POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
  ];
  if (spec.server.authSecretRef) {
    // A file, not an env var: the token stays out of `kubectl describe pod` and the process env.
    volumes.push({
      name: AUTH_VOLUME,
      secret: { secretName: spec.server.authSecretRef.name, items: [{ key: 'token', path: 'token' }] },
    });
    mounts.push({ name: AUTH_VOLUME, mountPath: AUTH_DIR, readOnly: true });
    env.push({ name: 'KINFER_AUTH_TOKEN_FILE', value: `${AUTH_DIR}/token` });
  }

  // A copy each time (of the defaults too): nothing downstream can change them for the next pod.
  const resources = stringifyQuantities(spec.resources ?? config.defaultResources);

  const predictor: V1Container = {
    name: 'predictor',
    image,
    imagePullPolicy: config.imagePullPolicy,
    args: ['runtime'],
    env,
    ports: [{ name: 'http', containerPort: port, protocol: 'TCP' }],
    readinessProbe: {
      httpGet: { path: '/v2/health/ready', port: 'http' },
      periodSeconds: 5,
      failureThreshold: 3,
    },
    livenessProbe: {
      httpGet: { path: '/healthz', port: 'http' },
      initialDelaySeconds: 10,
      periodSeconds: 10,
      failureThreshold: 6,
    },
    // A deleted pod leaves the Service's endpoints while it is already terminating: kube-proxy on
    // every node takes a moment to drop it, and connections sent its way meanwhile would be refused
    // if the runtime stopped listening at once. It keeps serving for PRESTOP_SLEEP_SECONDS first,
    // then drains (well inside the default 30 s grace period with the runtime's 20 s drain).
    lifecycle: { preStop: { sleep: { seconds: PRESTOP_SLEEP_SECONDS } } },
    resources,
    securityContext: restrictedContainer,
    terminationMessagePolicy: 'FallbackToLogsOnError',
    volumeMounts: mounts,
  };

  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: childMetadata(md, name, commonLabels(name)),
    spec: {
      replicas: spec.replicas,
      selector: { matchLabels: selectorLabels(name) },
      // Keep serving during a rollout: a new pod must be ready before an old one goes.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels: { ...commonLabels(name), 'kinfer.dev/model': spec.model.name },
          // Which model digest a pod was started to serve, readable in `kubectl describe pod`.
          ...(spec.model.sha256 ? { annotations: { 'kinfer.dev/model-sha256': spec.model.sha256 } } : {}),
        },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          // fsGroup: the model volumes (emptyDir, ConfigMap) are readable by the runtime's group.
          securityContext: { ...restrictedPod, fsGroup: 1000 },
          ...(initContainers.length ? { initContainers } : {}),
          containers: [predictor],
          volumes,
        },
      },
    },
  };
}

/** The ClusterIP Service in front of the predictors; its DNS name is what status.endpoints point at. */
export function desiredService(md: ParsedModelDeployment): V1Service {
  const name = md.metadata.name ?? '';
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMetadata(md, name, commonLabels(name)),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(name),
      ports: [{ name: 'http', port: md.spec.server.port, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}
