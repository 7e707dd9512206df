// InferenceJob status scenarios: what the reconciler may observe of a job's model, runner Job, pods
// and runner. Shared by the status unit tests and the GitOps judges (test/unit/gitops), which run
// Argo CD's and kstatus's own code over the status computeStatus derives for each scenario.
import type { V1ContainerStateTerminated, V1Job, V1Pod } from '@kubernetes/client-node';
import { parseInferenceJob } from '../../../src/api/index.ts';
import type { JobSnapshot } from '../../../src/api/jobs.ts';
import type { ParsedInferenceJob } from '../../../src/operator/inferencejob/desired.ts';
import type { Observed } from '../../../src/operator/inferencejob/status.ts';

export const now = new Date('2026-11-22T00:00:00Z');

export function job(overrides: Record<string, unknown> = {}): ParsedInferenceJob {
  return parseInferenceJob({
    apiVersion: 'kinfer.dev/v1alpha1',
    kind: 'InferenceJob',
    metadata: { name: 'digits', namespace: 'ml', uid: 'u-1', generation: 1 },
    spec: { modelDeploymentRef: { name: 'mnist' }, input: { dataset: 'mnist-test', limit: 100 } },
    ...overrides,
  }) as ParsedInferenceJob;
}

export const readyModel = {
  found: true as const,
  ready: true,
  reason: 'Ready',
  message: '',
  infer: 'http://mnist.ml.svc.cluster.local:8080/v2/models/mnist-cnn/infer',
};
export const runningJob: V1Job = {
  metadata: { name: 'digits', creationTimestamp: new Date('2026-11-21T23:59:00Z') },
  status: { active: 1, startTime: new Date('2026-11-21T23:59:01Z') },
};
export const snapshot = (overrides: Partial<JobSnapshot> = {}): JobSnapshot => ({
  name: 'digits',
  namespace: 'ml',
  phase: 'Running',
  progress: { processed: 40, total: 100, percent: 40 },
  seq: 7,
  startTime: '2026-11-21T23:59:02.500Z',
  ...overrides,
});
export const pendingJob: V1Job = { metadata: { name: 'digits' }, status: {} };
export const failedSnapshot = snapshot({
  phase: 'Failed',
  error: { code: 'input_invalid', message: 'bad idx' },
});
export const succeededSnapshot = snapshot({
  phase: 'Succeeded',
  progress: { processed: 100, total: 100, percent: 100 },
  completionTime: '2026-11-21T23:59:30.000Z',
});

/** A finished runner pod: Succeeded when it exited 0, else Failed. */
export const runnerPod = (name: string, terminated: V1ContainerStateTerminated): V1Pod => ({
  metadata: { name },
  status: {
    phase: terminated.exitCode === 0 ? 'Succeeded' : 'Failed',
    containerStatuses: [
      { name: 'runner', image: 'kinfer', imageID: '', ready: false, restartCount: 0, state: { terminated } },
    ],
  },
});

/** A runner pod that the kernel killed for memory, with a long log tail as its termination message. */
export const oomKilledPods: V1Pod[] = [
  runnerPod('digits-abc', {
    exitCode: 137,
    reason: 'OOMKilled',
    message: `Traceback (most recent call last): ${'allocating a batch of 1024 images; '.repeat(20)}out of memory`,
  }),
];

/** A runner Job that failed: the backoff limit, or (with `reason`) the deadline. */
export const failedJob = (
  reason = 'BackoffLimitExceeded',
  message = 'Job has reached the specified backoff limit',
): V1Job => ({
  ...runningJob,
  status: {
    failed: 1,
    conditions: [
      {
        type: 'Failed',
        status: 'True',
        reason,
        message,
        lastTransitionTime: new Date('2026-11-21T23:59:40Z'),
      },
    ],
  },
});

export const labelledResult = {
  classCounts: [10, 10, 10, 10, 10, 10, 10, 10, 10, 10],
  accuracy: 0.9921,
  labelled: 100,
  imagesPerSecond: 5000,
  latencyMs: { p50: 3, p99: 9 },
  retries: 0,
  durationMs: 20,
};

/** Every kind of state computeStatus produces, by what was observed. */
export const scenarios: { what: string; observed: Observed }[] = [
  {
    what: 'waiting: no ModelDeployment',
    observed: { model: { found: false }, job: undefined, runner: undefined },
  },
  {
    what: 'waiting: ModelDeployment not Ready',
    observed: {
      model: { found: true, ready: false, reason: 'Progressing', message: '0/2 ready', infer: undefined },
      job: undefined,
      runner: undefined,
    },
  },
  { what: 'runner Job being created', observed: { model: readyModel, job: undefined, runner: undefined } },
  {
    what: 'runner Job created, no pod active yet',
    observed: { model: readyModel, job: pendingJob, runner: undefined },
  },
  {
    what: 'runner loading its input',
    observed: {
      model: readyModel,
      job: runningJob,
      runner: { reachable: true, snapshot: snapshot({ phase: 'Loading' }) },
    },
  },
  {
    what: 'running',
    observed: { model: readyModel, job: runningJob, runner: { reachable: true, snapshot: snapshot() } },
  },
  {
    what: 'running, runner briefly unreachable',
    observed: {
      model: readyModel,
      job: runningJob,
      runner: { reachable: false, reason: 'connect ECONNREFUSED' },
    },
  },
  {
    what: 'succeeded, unlabelled input',
    observed: {
      model: readyModel,
      job: runningJob,
      runner: { reachable: true, snapshot: succeededSnapshot },
    },
  },
  {
    what: 'succeeded with an accuracy',
    observed: {
      model: readyModel,
      job: runningJob,
      runner: { reachable: true, snapshot: { ...succeededSnapshot, result: labelledResult } },
    },
  },
  {
    what: 'succeeded, final state never read from the runner',
    observed: {
      model: readyModel,
      job: {
        ...runningJob,
        status: {
          succeeded: 1,
          completionTime: new Date('2026-11-21T23:59:30Z'),
          conditions: [{ type: 'Complete', status: 'True' }],
        },
      },
      runner: { reachable: false, reason: 'connect ECONNREFUSED' },
    },
  },
  {
    what: 'failed: runner error',
    observed: { model: readyModel, job: runningJob, runner: { reachable: true, snapshot: failedSnapshot } },
  },
  {
    what: 'failed: runner pod OOMKilled',
    observed: {
      model: readyModel,
      job: failedJob(),
      pods: oomKilledPods,
      runner: { reachable: false, reason: 'connect ECONNREFUSED' },
    },
  },
  {
    what: 'failed: deadline exceeded',
    observed: {
      model: readyModel,
      job: failedJob('DeadlineExceeded', 'Job was active longer than specified deadline'),
      runner: { reachable: false, reason: 'connect ECONNREFUSED' },
    },
  },
];
