import type { V1EnvVar, V1Job, V1Service, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { type ContainerResources, DEFAULT_RUNNER_RESOURCES } from '../../api/default-resources.ts';
import type { InferenceJobSpec, InferenceJobStatus } from '../../api/inferencejob.ts';
import { stringifyQuantities } from '../../api/quantity.ts';
import { childMetadata, type KubeObject } from '../../kube/resources.ts';
import { DEFAULT_IMAGE } from '../defaults.ts';
import { restrictedContainer, restrictedPod } from '../pod-security.ts';

/** The operator's settings that shape every runner (flags / env of `kinfer operator`). */
export interface RunnerConfig {
  image: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Seconds the runner keeps serving after it finished, so clients and the operator read the end. */
  lingerSeconds: number;
  resources: ContainerResources;
}

export const defaultRunnerConfig: RunnerConfig = {
  image: DEFAULT_IMAGE,
  imagePullPolicy: 'IfNotPresent',
  lingerSeconds: 30,
  resources: DEFAULT_RUNNER_RESOURCES,
};

/** The object the reconciler works on: metadata from the apiserver, spec parsed by the API's zod schema. */
export interface ParsedInferenceJob extends KubeObject {
  apiVersion: string;
  kind: string;
  spec: InferenceJobSpec;
  status?: InferenceJobStatus;
}

export const RUNNER_PORT = 8080;
const INPUT_DIR = '/var/run/kinfer/input';
/** The runner leaves its final summary here; the operator reads it from the pod's terminated state. */
export const TERMINATION_LOG = '/dev/termination-log';

export const previewServiceName = (jobName: string): string => `${jobName}-preview`;

/** The in-cluster WebSocket URL of a job's previews (status.previewEndpoint). */
export const previewEndpoint = (name: string, namespace: string): string =>
  `ws://${previewServiceName(name)}.${namespace}.svc.cluster.local:${RUNNER_PORT}/ws/jobs/${name}`;

export function selectorLabels(name: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'kinfer',
    'app.kubernetes.io/instance': name,
    'app.kubernetes.io/component': 'job-runner',
  };
}

export const commonLabels = (name: string): Record<string, string> => ({
  ...selectorLabels(name),
  'app.kubernetes.io/managed-by': 'kinfer-operator',
});

/**
 * The batch/v1 Job running `kinfer job` for an InferenceJob: pure, nothing time-dependent. The
 * runner gets everything it needs as environment (spec, model endpoint) and a ConfigMap input as a
 * mounted file, so its pod needs no API access at all (no service account token).
 */
export function desiredJob(ij: ParsedInferenceJob, modelEndpoint: string, config: RunnerConfig): V1Job {
  const name = ij.metadata.name ?? '';
  const namespace = ij.metadata.namespace ?? '';
  const { spec } = ij;
  const volumes: V1Volume[] = [{ name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } }];
  const mounts: V1VolumeMount[] = [{ name: 'tmp', mountPath: '/tmp' }];
  const env: V1EnvVar[] = [
    { name: 'KINFER_NAME', value: name },
    { name: 'KINFER_NAMESPACE', value: namespace },
    { name: 'KINFER_HOST', value: '0.0.0.0' },
    { name: 'KINFER_PORT', value: String(RUNNER_PORT) },
    { name: 'KINFER_MODEL_ENDPOINT', value: modelEndpoint },
    { name: 'KINFER_SPEC', value: JSON.stringify(spec) },
    { name: 'KINFER_LINGER_SECONDS', value: String(config.lingerSeconds) },
    { name: 'KINFER_TERMINATION_LOG_PATH', value: TERMINATION_LOG },
  ];
  const configMap = spec.input.configMap;
  if (configMap) {
    volumes.push({
      name: 'input',
      configMap: { name: configMap.name, items: [{ key: configMap.key, path: 'input' }] },
    });
    mounts.push({ name: 'input', mountPath: INPUT_DIR, readOnly: true });
    env.push({ name: 'KINFER_INPUT_FILE', value: `${INPUT_DIR}/input` });
  }
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: childMetadata(ij, name, commonLabels(name)),
    spec: {
      backoffLimit: spec.backoffLimit,
      activeDeadlineSeconds: spec.activeDeadlineSeconds,
      ttlSecondsAfterFinished: spec.ttlSecondsAfterFinished,
      template: {
        metadata: { labels: commonLabels(name) },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: restrictedPod,
          containers: [
            {
              name: 'runner',
              image: config.image,
              imagePullPolicy: config.imagePullPolicy,
              args: ['job'],
              env,
              ports: [{ name: 'preview', containerPort: RUNNER_PORT, protocol: 'TCP' }],
              readinessProbe: { httpGet: { path: '/readyz', port: 'preview' }, periodSeconds: 2 },
              // The spec's resources replace the operator's defaults whole (as a ModelDeployment's do).
              // A copy each time (of the defaults too): nothing downstream can change them.
              resources: stringifyQuantities(spec.runner?.resources ?? config.resources),
              securityContext: restrictedContainer,
              terminationMessagePath: TERMINATION_LOG,
              // A runner that dies before writing its summary still explains itself (log tail).
              terminationMessagePolicy: 'FallbackToLogsOnError',
              volumeMounts: mounts,
            },
          ],
          volumes,
        },
      },
    },
  };
}

/** The Service in front of the runner's preview port: `NAME-preview`. */
export function desiredService(ij: ParsedInferenceJob): V1Service {
  const name = ij.metadata.name ?? '';
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMetadata(ij, previewServiceName(name), commonLabels(name)),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(name),
      ports: [{ name: 'preview', port: RUNNER_PORT, targetPort: 'preview', protocol: 'TCP' }],
    },
  };
}
