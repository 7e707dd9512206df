import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInferenceJob } from '../../../src/api/index.ts';
import { JobTerminationSummary } from '../../../src/api/jobs.ts';
import { inferenceJobControllerWith } from '../../../src/operator/inferencejob/controller.ts';
import {
  defaultRunnerConfig,
  desiredJob,
  type ParsedInferenceJob,
} from '../../../src/operator/inferencejob/desired.ts';
import { Operator } from '../../../src/operator/manager.ts';
import { spawnRunner, startTestRuntime } from '../../server/jobs/helpers.ts';
import { testKubeConfig, testKubeconfigPath, useTestNamespace } from '../../support/kube.ts';
import {
  conditionsOf,
  freePort,
  type Json,
  kubectlApply,
  kubectlJson,
  readClient,
  testPredictor,
  until,
} from '../operator/support.ts';

// A job short enough to end before the operator ever read its runner. To make that certain, no
// operator runs until the Jobs have finished: each runner Job is the one the operator builds
// (desiredJob), kwok's fake kubelet runs and completes its pod, the runner itself runs on loopback
// with the pod's environment, and the test then does what a real kubelet does when the container
// exits: copies the file at terminationMessagePath into the pod's state.terminated.message (kwok
// leaves it empty). A real kubelet writes both at once; here the operator starts only after, so it
// never sees a terminated pod without its message. Only then does the operator start, with a
// runner URL nothing listens on.
const namespace = useTestNamespace('ijt');
let kubeconfig: string;
let runtime: Awaited<ReturnType<typeof startTestRuntime>>;
let operator: Operator | undefined;
let dir: string;

beforeAll(async () => {
  kubeconfig = testKubeconfigPath();
  runtime = await startTestRuntime();
  dir = await mkdtemp(join(tmpdir(), 'kinfer-ijt-'));
});
afterAll(async () => {
  await operator?.stop();
  await runtime?.close();
  await rm(dir, { recursive: true, force: true });
});

const getIj = (name: string) => kubectlJson(kubeconfig, ['get', '-n', namespace(), 'inferencejob', name]);
/** Creates the InferenceJob and the runner Job the operator would create for it. */
async function createFinishedJob(
  name: string,
  count: number,
): Promise<{ pod: Json; env: Record<string, string> }> {
  await kubectlApply(kubeconfig, [
    {
      apiVersion: 'kinfer.dev/v1alpha1',
      kind: 'InferenceJob',
      metadata: { name, namespace: namespace() },
      spec: { modelDeploymentRef: { name: 'mnist' }, input: { synthetic: { count, seed: 3 } } },
    },
  ]);
  const ij = parseInferenceJob(await getIj(name)) as ParsedInferenceJob;
  const job = desiredJob(ij, runtime.infer, { ...defaultRunnerConfig, image: testPredictor.image });
  await kubectlApply(kubeconfig, [job]);
  const env = Object.fromEntries(
    job.spec!.template.spec!.containers[0]!.env!.map((e) => [e.name, e.value ?? '']),
  );
  await until(`Job ${name} to complete (kwok runs its pod)`, async () => {
    const observed = await kubectlJson(kubeconfig, ['get', '-n', namespace(), 'job', name]);
    return observed.status?.conditions?.some((c: Json) => c.type === 'Complete' && c.status === 'True');
  });
  const pods = await kubectlJson(kubeconfig, [
    'get',
    'pods',
    '-n',
    namespace(),
    '-l',
    `app.kubernetes.io/instance=${name}`,
  ]);
  expect(pods.items).toHaveLength(1);
  return { pod: pods.items[0], env };
}

/** What the kubelet does when the container exits: the message file into the terminated state. */
async function setTerminationMessage(pod: Json, message: string): Promise<void> {
  const client = readClient(testKubeConfig());
  try {
    const path = `/api/v1/namespaces/${namespace()}/pods/${pod.metadata.name}/status`;
    const current = await client.request<Json>('GET', path);
    const statuses: Json[] = current.status.containerStatuses;
    expect(statuses[0].state.terminated).toBeDefined();
    statuses[0].state.terminated.message = message;
    await client.request('PUT', path, { body: current });
  } finally {
    client.close();
  }
}

describe('InferenceJob whose Job finished before the operator read the runner', () => {
  it('ends Succeeded with the result from the pod termination message; a malformed message is ignored', async () => {
    const quick = await createFinishedJob('quick', 50);
    const messageFile = join(dir, 'termination-log');
    // The pod's own environment, except what only resolves in a cluster.
    expect(quick.env.KINFER_TERMINATION_LOG_PATH).toBe('/dev/termination-log');
    const runner = await spawnRunner([], {
      ...quick.env,
      KINFER_HOST: '127.0.0.1',
      KINFER_PORT: '0',
      KINFER_MODEL_ENDPOINT: runtime.infer,
      KINFER_LINGER_SECONDS: '0',
      KINFER_TERMINATION_LOG_PATH: messageFile,
    });
    expect(await runner.exit).toBe(0);
    const message = await readFile(messageFile, 'utf8');
    const written = JobTerminationSummary.parse(JSON.parse(message));
    expect(written.progress).toEqual({ processed: 50, total: 50, percent: 100 });
    await setTerminationMessage(quick.pod, message);

    const garbled = await createFinishedJob('garbled', 20);
    await setTerminationMessage(garbled.pod, '{"name":"garbled","namespace":"x","phase":');

    operator = new Operator(
      { kubeConfig: testKubeConfig(), namespaces: [namespace()], predictor: testPredictor },
      [
        inferenceJobControllerWith({
          runnerAccess: { kind: 'url', template: `http://127.0.0.1:${await freePort()}` },
        }),
      ],
    );
    await operator.start();

    const done = await until('quick to be Succeeded', async () => {
      const ij = await getIj('quick');
      return ij.status?.phase === 'Succeeded' ? ij : undefined;
    });
    expect(conditionsOf(done).Succeeded).toMatchObject({
      status: 'True',
      reason: 'Completed',
      message: `classified 50 images, accuracy ${(written.result!.accuracy! * 100).toFixed(2)}%`,
    });
    expect(done.status.progress).toEqual({ processed: 50, total: 50, percent: 100 });
    expect(done.status.result).toEqual({
      classCounts: written.result!.classCounts,
      accuracy: written.result!.accuracy,
      imagesPerSecond: written.result!.imagesPerSecond,
      latencyMs: written.result!.latencyMs,
    });
    expect(done.status.result.classCounts.reduce((a: number, b: number) => a + b, 0)).toBe(50);
    expect(done.status.completionTime).toBe(`${written.completionTime!.slice(0, 19)}Z`);

    const blind = await until('garbled to be Succeeded', async () => {
      const ij = await getIj('garbled');
      return ij.status?.phase === 'Succeeded' ? ij : undefined;
    });
    expect(blind.status.result).toBeUndefined();
    expect(conditionsOf(blind).Succeeded.message).toMatch(/final result was not read/);
  });
});
