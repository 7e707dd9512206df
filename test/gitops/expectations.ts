// The one expectation table: for every judged object (test/gitops/objects.ts), its testdata file
// name, what Argo CD's health check must say (status, message) and what kstatus must say (status,
// message). test/unit/gitops runs both tools' own code over every object and compares.
import { type Kind, longMessage } from './objects.ts';

export interface Expected {
  /** testdata/<file>.yaml */
  file: string;
  argocd: [status: 'Healthy' | 'Progressing' | 'Degraded', message: string];
  kstatus: [status: 'Current' | 'InProgress' | 'Failed', message: string];
}

const waitingForStatus = 'Waiting for the operator to report status';
const observe = (generation: number) => `Waiting for the operator to observe generation ${generation}`;
const generations = (kind: Kind, generation: number, observed: number) =>
  `${kind} generation is ${generation}, but latest observed generation is ${observed}`;
const noStatus: Expected['kstatus'] = ['Current', 'Resource is current'];
const ready: Expected['kstatus'] = ['Current', 'Resource is Ready'];
const reconciling = 'Reconciling: waiting for the predictor Deployment to be observed';

const modelDeployment: Record<string, Expected> = {
  'first reconcile: Deployment just created, never observed': {
    file: 'first_reconcile',
    argocd: ['Progressing', reconciling],
    kstatus: ['InProgress', 'waiting for the predictor Deployment to be observed'],
  },
  'rolled out and ready': { file: 'healthy', argocd: ['Healthy', '2/2 replicas ready'], kstatus: ready },
  'scaling up': {
    file: 'scaling_up',
    argocd: ['Progressing', 'RollingOut: 1/2 replicas updated, 1 ready, 1 exist'],
    kstatus: ['InProgress', '1/2 replicas updated, 1 ready, 1 exist'],
  },
  'pods exist but not ready yet': {
    file: 'not_ready',
    argocd: ['Progressing', 'WaitingForReady: 2/2 replicas updated, 0 ready, 2 exist'],
    kstatus: ['InProgress', '2/2 replicas updated, 0 ready, 2 exist'],
  },
  'model load failure in CrashLoopBackOff: reason from the termination message': {
    file: 'degraded_model_load',
    argocd: ['Degraded', 'ModelLoadFailed: pod mnist-abc, container predictor: protobuf parsing failed'],
    kstatus: ['Failed', 'pod mnist-abc, container predictor: protobuf parsing failed'],
  },
  'plain CrashLoopBackOff keeps the kubelet reason': {
    file: 'degraded_crashloop',
    argocd: [
      'Degraded',
      'CrashLoopBackOff: pod mnist-abc, container predictor: back-off 20s; last exit: OOMKilled (exit code 137)',
    ],
    kstatus: [
      'Failed',
      'pod mnist-abc, container predictor: back-off 20s; last exit: OOMKilled (exit code 137)',
    ],
  },
  'ImagePullBackOff with the pull message': {
    file: 'degraded_image_pull',
    argocd: [
      'Degraded',
      'ImagePullBackOff: pod mnist-def, container predictor: Back-off pulling image "nope:1"',
    ],
    kstatus: ['Failed', 'pod mnist-def, container predictor: Back-off pulling image "nope:1"'],
  },
  'sha256 mismatch in the fetch-model init container': {
    file: 'degraded_checksum',
    argocd: [
      'Degraded',
      'ModelChecksumMismatch: pod mnist-ghi, container fetch-model: sha256 is 00, expected bb',
    ],
    kstatus: ['Failed', 'pod mnist-ghi, container fetch-model: sha256 is 00, expected bb'],
  },
  'unschedulable pod': {
    file: 'degraded_unschedulable',
    argocd: ['Degraded', 'Unschedulable: pod mnist-jkl: 0/3 nodes are available'],
    kstatus: ['Failed', 'pod mnist-jkl: 0/3 nodes are available'],
  },
  'rollout past its progress deadline': {
    file: 'degraded_progress_deadline',
    argocd: ['Degraded', 'ProgressDeadlineExceeded: timed out'],
    kstatus: ['Failed', 'timed out'],
  },
  'a problem of the operator itself (apply failed)': {
    file: 'degraded_apply_failed',
    argocd: ['Degraded', 'ApplyFailed: HTTP 500'],
    kstatus: ['Failed', 'HTTP 500'],
  },
  'ready pods but the Deployment has a newer generation than observed': {
    file: 'deployment_not_observed',
    argocd: ['Progressing', reconciling],
    kstatus: ['InProgress', 'waiting for the predictor Deployment to be observed'],
  },
  'degraded with a long message': {
    file: 'degraded_long_message',
    argocd: ['Degraded', `ApplyFailed: ${longMessage}`],
    kstatus: ['Failed', longMessage],
  },
};

// The runner pod's 748-character log tail, kept from its last words (at most 400 characters).
const lastWords = `…${'allocating a batch of 1024 images; '.repeat(11)}out of memory`;
const jobFailed =
  'Job has reached the specified backoff limit; pod digits-abc container runner exited with code 137: ';

const inferenceJob: Record<string, Expected> = {
  'waiting: no ModelDeployment': {
    file: 'waiting_for_model',
    argocd: ['Progressing', 'ModelDeploymentNotFound: ModelDeployment mnist does not exist in namespace ml'],
    kstatus: ['InProgress', 'ModelDeployment mnist does not exist in namespace ml'],
  },
  'waiting: ModelDeployment not Ready': {
    file: 'waiting_for_ready_model',
    argocd: [
      'Progressing',
      'ModelDeploymentNotReady: ModelDeployment mnist is not Ready (Progressing: 0/2 ready)',
    ],
    kstatus: ['InProgress', 'ModelDeployment mnist is not Ready (Progressing: 0/2 ready)'],
  },
  'runner Job being created': {
    file: 'runner_starting',
    argocd: ['Progressing', 'RunnerStarting: the runner Job is being created'],
    kstatus: ['InProgress', 'the runner Job is being created'],
  },
  'runner Job created, no pod active yet': {
    file: 'runner_pending',
    argocd: ['Progressing', 'RunnerNotReachable: the runner has not answered yet'],
    kstatus: ['InProgress', 'the runner has not answered yet'],
  },
  'runner loading its input': {
    file: 'loading',
    argocd: ['Progressing', 'Running: 40/100 images (40%)'],
    kstatus: ['InProgress', 'the runner is loading its input'],
  },
  running: {
    file: 'running',
    argocd: ['Progressing', 'Running: 40/100 images (40%)'],
    kstatus: ['InProgress', '40% done'],
  },
  'running, runner briefly unreachable': {
    file: 'running_unreachable',
    argocd: ['Progressing', 'RunnerNotReachable: connect ECONNREFUSED'],
    kstatus: ['InProgress', 'connect ECONNREFUSED'],
  },
  'succeeded, unlabelled input': {
    file: 'succeeded',
    argocd: ['Healthy', 'Completed: classified 100 images'],
    kstatus: ready,
  },
  'succeeded with an accuracy': {
    file: 'succeeded_accuracy',
    argocd: ['Healthy', 'Completed: classified 100 images, accuracy 99.21%'],
    kstatus: ready,
  },
  'succeeded, final state never read from the runner': {
    file: 'succeeded_without_result',
    argocd: ['Healthy', 'Completed: the runner exited successfully (its final result was not read)'],
    kstatus: ready,
  },
  'failed: runner error': {
    file: 'failed',
    argocd: ['Degraded', 'InputInvalid: bad idx'],
    kstatus: ['Failed', 'bad idx'],
  },
  'failed: runner pod OOMKilled': {
    file: 'failed_oomkilled',
    argocd: ['Degraded', `OOMKilled: ${jobFailed}${lastWords}`],
    kstatus: ['Failed', `${jobFailed}${lastWords}`],
  },
  'failed: deadline exceeded': {
    file: 'failed_deadline',
    argocd: ['Degraded', 'DeadlineExceeded: Job was active longer than specified deadline'],
    kstatus: ['Failed', 'Job was active longer than specified deadline'],
  },
};

/**
 * The edge cases of objects.ts, derived from a finished object of generation `generation` (a Ready
 * ModelDeployment, a succeeded InferenceJob) that Argo CD calls Healthy with `healthy`'s message
 * when its conditions have neither reason nor message.
 */
function edgeRows(kind: Kind, generation: number, healthy: string): Record<string, Expected> {
  const waiting: Expected['argocd'] = ['Progressing', waitingForStatus];
  return {
    'no status yet': { file: 'no_status', argocd: waiting, kstatus: noStatus },
    'empty status': { file: 'empty_status', argocd: waiting, kstatus: noStatus },
    'empty conditions': { file: 'empty_conditions', argocd: waiting, kstatus: noStatus },
    'null conditions': { file: 'null_conditions', argocd: waiting, kstatus: noStatus },
    'no observedGeneration': {
      file: 'no_observed_generation',
      argocd: ['Progressing', observe(generation)],
      kstatus: ready,
    },
    'stale: a newer generation the operator has not seen': {
      file: 'stale_generation',
      argocd: ['Progressing', observe(generation + 1)],
      kstatus: ['InProgress', generations(kind, generation + 1, generation)],
    },
    'ahead: observedGeneration above metadata.generation': {
      file: 'ahead_generation',
      argocd: ['Progressing', observe(generation)],
      kstatus: ['InProgress', generations(kind, generation, generation + 1)],
    },
    'conditions without reason or message': {
      file: 'bare_conditions',
      argocd: ['Healthy', healthy],
      kstatus: ready,
    },
  };
}

const tables: Record<Kind, Record<string, Expected>> = {
  ModelDeployment: { ...modelDeployment, ...edgeRows('ModelDeployment', 3, '2/2 replicas ready') },
  InferenceJob: { ...inferenceJob, ...edgeRows('InferenceJob', 1, 'Succeeded') },
};

/** The expectation for one object; throws for an object the table does not cover (a new scenario needs a row). */
export function expectationFor(kind: Kind, what: string): Expected {
  const expected = tables[kind][what];
  if (!expected) throw new Error(`test/gitops/expectations.ts has no row for ${kind} "${what}"`);
  return expected;
}

/** Rows no object stands for (a scenario was renamed or removed). */
export const unusedRows = (used: ReadonlySet<string>): string[] =>
  (Object.keys(tables) as Kind[]).flatMap((kind) =>
    Object.keys(tables[kind])
      .map((what) => `${kind}: ${what}`)
      .filter((key) => !used.has(key)),
  );
