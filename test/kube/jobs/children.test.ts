import { beforeAll, describe, expect, it } from 'vitest';
import { inferenceJobControllerWith } from '../../../src/operator/inferencejob/controller.ts';
import { modelDeploymentController } from '../../../src/operator/modeldeployment/controller.ts';
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
} from '../operator/support.ts';

// An InferenceJob never takes over a Job or a -preview Service of its name that it does not
// control: its status says ChildConflict (naming the object and its controller), nothing is
// written to the object, nothing else is created (no runner Job beside a foreign Service, no
// Service beside a foreign Job), and the job carries on once the object is gone.
// A ResourceQuota of one pod (the predictor's) keeps kwok from "running" runner pods.
const { namespace } = useTestOperator('ij-children', {
  setups: [
    modelDeploymentController,
    inferenceJobControllerWith({ runnerAccess: { kind: 'url', template: 'http://127.0.0.1:9' } }),
  ],
});
const kubeconfig = testKubeconfigPath;

beforeAll(async () => {
  await kubectlApply(kubeconfig(), [
    {
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: { name: 'one-pod', namespace: namespace() },
      spec: { hard: { pods: '1' } },
    },
    modelDeployment('mnist', namespace()),
  ]);
  await kubectl(kubeconfig(), [
    'wait',
    '-n',
    namespace(),
    '--for=condition=Ready',
    'md/mnist',
    '--timeout=60s',
  ]);
});

const get = (kind: string, name: string): Promise<Json> =>
  kubectlJson(kubeconfig(), ['get', '-n', namespace(), kind, name]);

const inferenceJob = (name: string) => ({
  apiVersion: 'kinfer.dev/v1alpha1',
  kind: 'InferenceJob',
  metadata: { name, namespace: namespace() },
  spec: { modelDeploymentRef: { name: 'mnist' }, input: { synthetic: { count: 10, seed: 1 } } },
});

const foreignJob = (name: string) => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name, namespace: namespace() },
  spec: {
    suspend: true,
    template: {
      spec: { restartPolicy: 'Never', containers: [{ name: 'theirs', image: 'theirs:1' }] },
    },
  },
});

const foreignService = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: namespace() },
  spec: { selector: { app: 'theirs' }, ports: [{ port: 80 }] },
});

describe('children of an InferenceJob', () => {
  it.each([
    ['Job', 'job', 'taken-job', 'taken-job', foreignJob],
    ['Service', 'service', 'taken-svc', 'taken-svc-preview', foreignService],
  ])('never takes over a %s it does not control', async (kind, resource, job, child, make) => {
    await kubectlApply(kubeconfig(), [make(child)]);
    const theirs = await get(resource, child);
    await kubectlApply(kubeconfig(), [inferenceJob(job)]);
    const ij = await until('a ChildConflict condition', async () => {
      const ij = await get('inferencejob', job);
      return conditionsOf(ij).Ready?.reason === 'ChildConflict' ? ij : undefined;
    });
    expect(conditionsOf(ij).Ready.status).toBe('False');
    expect(conditionsOf(ij).Ready.message).toBe(
      `${kind} ${child} exists and is not controlled by this InferenceJob (controller: none)`,
    );
    const still = await get(resource, child);
    expect(still.metadata.resourceVersion).toBe(theirs.metadata.resourceVersion);
    expect(still.metadata.ownerReferences).toBeUndefined();
    // Nothing is created while a child's name is taken: neither the runner Job nor its Service.
    const other = kind === 'Service' ? ['job', job] : ['service', `${job}-preview`];
    await expect(kubectl(kubeconfig(), ['get', '-n', namespace(), ...other])).rejects.toThrow(/NotFound/);

    await kubectl(kubeconfig(), ['delete', '-n', namespace(), resource, child, '--wait=true']);
    const ours = await until(`the ${kind} to be the InferenceJob's`, async () => {
      const object = await get(resource, child);
      return object.metadata.ownerReferences?.[0]?.uid === ij.metadata.uid ? object : undefined;
    });
    expect(ours.metadata.ownerReferences[0]).toMatchObject({ kind: 'InferenceJob', controller: true });
    await until('the conflict to leave the status', async () => {
      const now = await get('inferencejob', job);
      return conditionsOf(now).Ready?.reason !== 'ChildConflict' ? now : undefined;
    });
  });
});
