import type { V1Job, V1Pod } from '@kubernetes/client-node';
import type { InferenceJobStatus } from '../../api/inferencejob.ts';
import type { JobSnapshot, JobTerminationSummary } from '../../api/jobs.ts';
import {
  type Condition,
  type ConditionUpdate,
  findCondition,
  rfc3339,
  setCondition,
} from '../../kube/conditions.ts';
import { type ParsedInferenceJob, previewEndpoint } from './desired.ts';

/** What the reconciler saw of the ModelDeployment the job refers to. */
export type ModelObservation =
  | { found: false }
  | { found: true; ready: boolean; reason: string; message: string; infer: string | undefined };

/** What the reconciler read from the runner's `GET /v1/jobs/{name}`, or why it could not. */
export type RunnerObservation =
  | { reachable: true; snapshot: JobSnapshot }
  | { reachable: false; reason: string };

export interface Observed {
  model: ModelObservation;
  job: V1Job | undefined;
  /** The Job's pods; read only when the Job finished without the runner's final state, for the pod's own reason. */
  pods?: V1Pod[];
  runner: RunnerObservation | undefined;
  /**
   * The runner's final summary from its pod's termination message (see termination.ts): used once
   * the Job has finished, when the runner's REST endpoint never gave the final state.
   */
  terminated?: JobTerminationSummary;
  /** Why the children are not as desired (ChildConflict, ApplyFailed): Ready says so. */
  problem?: { reason: string; message: string };
}

export const isFinished = (status: InferenceJobStatus | undefined): boolean => {
  const succeeded = findCondition(status?.conditions as Condition[] | undefined, 'Succeeded');
  return succeeded !== undefined && succeeded.status !== 'Unknown';
};

/** `model_unavailable` → `ModelUnavailable`: a runner error code as a condition reason. */
export const reasonOf = (code: string): string =>
  code
    .split(/[_-]/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

const time = (value: string | Date | undefined): string | undefined =>
  value === undefined ? undefined : rfc3339(new Date(value));

/**
 * The end of a long text (a log tail: its last lines say why), at most `max` characters, cut at a
 * word boundary and marked with a leading "…" when anything was left out.
 */
export function lastWords(text: string, max: number): string {
  if (text.length <= max) return text;
  const start = text.length - (max - 1);
  const tail = text.slice(start);
  // Starting mid-word: drop the partial word (unless the tail is a single word).
  const partial = /\S/.test(text.charAt(start - 1)) ? tail.search(/\s\S/) + 1 : 0;
  return `…${tail.slice(partial)}`;
}

/** The reason a failed Job's pod gives (OOMKilled, Error, ...) with its message, if any pod says. */
export function podFailure(
  pods: readonly V1Pod[] | undefined,
): { reason: string; message: string } | undefined {
  for (const pod of pods ?? []) {
    for (const status of pod.status?.containerStatuses ?? []) {
      const terminated = status.state?.terminated ?? status.lastState?.terminated;
      if (terminated && terminated.exitCode !== 0) {
        const detail = terminated.message?.trim() ? `: ${lastWords(terminated.message.trim(), 400)}` : '';
        return {
          reason: terminated.reason || 'Error',
          message: `pod ${pod.metadata?.name} container ${status.name} exited with code ${terminated.exitCode}${detail}`,
        };
      }
      const waiting = status.state?.waiting;
      if (waiting?.reason && waiting.reason !== 'ContainerCreating' && waiting.reason !== 'PodInitializing') {
        return {
          reason: waiting.reason,
          message: `pod ${pod.metadata?.name}: ${waiting.message ?? waiting.reason}`,
        };
      }
    }
    if (pod.status?.phase === 'Failed' && pod.status.reason) {
      return {
        reason: pod.status.reason,
        message: `pod ${pod.metadata?.name}: ${pod.status.message ?? pod.status.reason}`,
      };
    }
  }
  return undefined;
}

const jobCondition = (job: V1Job | undefined, type: string) =>
  job?.status?.conditions?.find((condition) => condition.type === type && condition.status === 'True');

/**
 * The status an InferenceJob should have given what was observed: pure, so every branch has a
 * unit test. The runner's snapshot is the truth about progress and outcome; the Job's own
 * conditions (and its pods) are the truth when the runner crashed or never came up. A finished
 * status is final.
 */
export function computeStatus(ij: ParsedInferenceJob, observed: Observed, now: Date): InferenceJobStatus {
  return withKstatusConditions(computeCoreStatus(ij, observed, now), ij.metadata.generation, now);
}

/**
 * Ready once the job has finished: True when it succeeded (its result is there), False when it
 * failed, naming the failure's reason (the runner may never have served: an OOM-killed or
 * unschedulable runner has nothing to linger with).
 */
const finishedReady = (succeeded: boolean, reason: string): Omit<ConditionUpdate, 'observedGeneration'> =>
  succeeded
    ? {
        type: 'Ready',
        status: 'True',
        reason: 'JobSucceeded',
        message: 'the job succeeded: its result is in status.result',
      }
    : {
        type: 'Ready',
        status: 'False',
        reason: 'JobFinished',
        message: `the job failed (${reason}); what happened is in the Succeeded condition`,
      };

/**
 * kstatus's "abnormal-true" pair, so that kstatus reads an InferenceJob the way Argo CD's health
 * check does: InProgress until it has finished (Reconciling
 * True, with Ready's reason and message while Ready is False: waiting for the model, runner
 * starting or not reachable; else Succeeded's: running, percent done), Current once it succeeded
 * (Ready True: kstatus falls back to Ready when neither Reconciling nor Stalled is True), Failed
 * once it failed (Stalled True with Succeeded's reason and message). Also applied to a finished
 * status (final otherwise), so one stored before these rules gains them once.
 */
function withKstatusConditions(
  status: InferenceJobStatus,
  generation: number | undefined,
  now: Date,
): InferenceJobStatus {
  let conditions = (status.conditions ?? []) as Condition[];
  const succeeded = findCondition(conditions, 'Succeeded');
  const finished = succeeded !== undefined && succeeded.status !== 'Unknown';
  const failed = succeeded?.status === 'False';
  const at = generation !== undefined ? { observedGeneration: generation } : {};
  // A status finished before Ready followed the outcome: bring Ready in line, once.
  if (finished)
    conditions = setCondition(conditions, { ...finishedReady(!failed, succeeded.reason), ...at }, now);
  const ready = findCondition(conditions, 'Ready');
  const reconciling = finished
    ? { status: 'False' as const, reason: succeeded.reason, message: succeeded.message }
    : ready?.status === 'False'
      ? { status: 'True' as const, reason: ready.reason, message: ready.message }
      : {
          status: 'True' as const,
          reason: succeeded?.reason ?? 'Running',
          message: succeeded?.message ?? '',
        };
  conditions = setCondition(conditions, { type: 'Reconciling', ...reconciling, ...at }, now);
  conditions = setCondition(
    conditions,
    failed
      ? { type: 'Stalled', status: 'True', reason: succeeded.reason, message: succeeded.message, ...at }
      : finished
        ? { type: 'Stalled', status: 'False', reason: succeeded.reason, message: succeeded.message, ...at }
        : { type: 'Stalled', status: 'False', reason: 'NotFailed', message: 'the job has not failed', ...at },
    now,
  );
  return { ...status, conditions };
}

function computeCoreStatus(ij: ParsedInferenceJob, observed: Observed, now: Date): InferenceJobStatus {
  const current: InferenceJobStatus = ij.status ?? {};
  if (isFinished(current)) return current;
  const name = ij.metadata.name ?? '';
  const namespace = ij.metadata.namespace ?? '';
  const generation = ij.metadata.generation;
  let conditions = (current.conditions ?? []) as Condition[];
  const set = (type: string, status: Condition['status'], reason: string, message: string): void => {
    conditions = setCondition(
      conditions,
      {
        type,
        status,
        reason,
        message,
        ...(generation !== undefined ? { observedGeneration: generation } : {}),
      },
      now,
    );
  };
  const next: InferenceJobStatus = {
    ...current,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  const { model, job, runner } = observed;
  const mdName = ij.spec.modelDeploymentRef.name;

  if (!job) {
    next.phase = 'Pending';
    if (!model.found) {
      set(
        'Ready',
        'False',
        'ModelDeploymentNotFound',
        `ModelDeployment ${mdName} does not exist in namespace ${namespace}`,
      );
      set('Succeeded', 'Unknown', 'WaitingForModel', `waiting for ModelDeployment ${mdName}`);
    } else if (!model.ready || !model.infer) {
      const why = model.ready
        ? 'has no infer endpoint in its status yet'
        : `is not Ready (${model.reason}: ${model.message})`;
      set('Ready', 'False', 'ModelDeploymentNotReady', `ModelDeployment ${mdName} ${why}`);
      set('Succeeded', 'Unknown', 'WaitingForModel', `waiting for ModelDeployment ${mdName}`);
    } else if (observed.problem) {
      set('Ready', 'False', observed.problem.reason, observed.problem.message);
      set('Succeeded', 'Unknown', 'Running', 'the job has not finished');
    } else {
      set('Ready', 'False', 'RunnerStarting', 'the runner Job is being created');
      set('Succeeded', 'Unknown', 'Running', 'the job has not finished');
      next.previewEndpoint = previewEndpoint(name, namespace);
    }
    next.conditions = conditions;
    return next;
  }

  next.previewEndpoint = previewEndpoint(name, namespace);
  next.startTime ??= time(job.status?.startTime ?? job.metadata?.creationTimestamp) ?? rfc3339(now);
  const failedCondition = jobCondition(job, 'Failed') ?? jobCondition(job, 'FailureTarget');
  const complete = jobCondition(job, 'Complete') ?? jobCondition(job, 'SuccessCriteriaMet');
  const live = runner?.reachable ? runner.snapshot : undefined;
  const liveFinal = live?.phase === 'Succeeded' || live?.phase === 'Failed';
  // A short job may end before the runner was ever read: its termination message has the end.
  const snapshot: Omit<JobSnapshot, 'seq'> | undefined =
    !liveFinal && (failedCondition || complete) && observed.terminated ? observed.terminated : live;
  if (snapshot) {
    next.progress = snapshot.progress;
    if (snapshot.startTime) next.startTime = time(snapshot.startTime);
  }

  const finish = (
    succeeded: boolean,
    reason: string,
    message: string,
    at: string | Date | undefined,
  ): InferenceJobStatus => {
    next.phase = succeeded ? 'Succeeded' : 'Failed';
    next.completionTime = time(at) ?? rfc3339(now);
    const ready = finishedReady(succeeded, reason);
    set(ready.type, ready.status, ready.reason, ready.message);
    set('Succeeded', succeeded ? 'True' : 'False', reason, message);
    next.conditions = conditions;
    return next;
  };

  if (snapshot?.phase === 'Succeeded') {
    if (snapshot.result) {
      const { classCounts, accuracy, imagesPerSecond, latencyMs } = snapshot.result;
      next.result = {
        classCounts,
        ...(accuracy !== undefined ? { accuracy } : {}),
        imagesPerSecond,
        latencyMs,
      };
    }
    const accuracy = snapshot.result?.accuracy;
    const summary = `classified ${snapshot.progress.processed} images${accuracy !== undefined ? `, accuracy ${(accuracy * 100).toFixed(2)}%` : ''}`;
    return finish(true, 'Completed', summary, snapshot.completionTime);
  }
  if (snapshot?.phase === 'Failed') {
    const error = snapshot.error ?? { code: 'internal', message: 'the runner failed' };
    return finish(false, reasonOf(error.code), error.message, snapshot.completionTime);
  }
  if (failedCondition) {
    const pod = podFailure(observed.pods);
    const reason = pod?.reason ?? failedCondition.reason ?? 'JobFailed';
    const message = [failedCondition.message ?? failedCondition.reason, pod?.message]
      .filter(Boolean)
      .join('; ');
    return finish(false, reason, message || 'the runner Job failed', failedCondition.lastTransitionTime);
  }
  if (complete) {
    return finish(
      true,
      'Completed',
      'the runner exited successfully (its final result was not read)',
      job.status?.completionTime ?? complete.lastTransitionTime,
    );
  }

  if (observed.problem) {
    next.phase = (job.status?.active ?? 0) > 0 || current.phase === 'Running' ? 'Running' : 'Pending';
    set('Ready', 'False', observed.problem.reason, observed.problem.message);
    set('Succeeded', 'Unknown', 'Running', 'the job has not finished');
  } else if (snapshot) {
    next.phase = 'Running';
    set('Ready', 'True', 'RunnerServing', `previews are live at ${next.previewEndpoint}`);
    set(
      'Succeeded',
      'Unknown',
      'Running',
      snapshot.phase === 'Loading' ? 'the runner is loading its input' : `${snapshot.progress.percent}% done`,
    );
  } else {
    next.phase = (job.status?.active ?? 0) > 0 || current.phase === 'Running' ? 'Running' : 'Pending';
    set(
      'Ready',
      'False',
      'RunnerNotReachable',
      runner && !runner.reachable ? runner.reason : 'the runner has not answered yet',
    );
    set('Succeeded', 'Unknown', 'Running', 'the job has not finished');
  }
  next.conditions = conditions;
  return next;
}
