import type { CoreV1Event, V1ContainerStatus, V1Deployment, V1Pod, V1Service } from '@kubernetes/client-node';
import type { ModelDeploymentStatus } from '../../api/modeldeployment.ts';
import { type Condition, type ConditionUpdate, setCondition } from '../../kube/conditions.ts';
import { AUTH_VOLUME, type ParsedModelDeployment, selectorString } from './desired.ts';

/** Something that stops the operator from doing its part, reported as Degraded. */
export interface ReconcileProblem {
  reason: string;
  message: string;
}

/** What the reconciler saw this pass: the children as the apiserver has them, and their pods. */
export interface Observed {
  deployment?: V1Deployment | undefined;
  service?: V1Service | undefined;
  pods: readonly V1Pod[];
  /** An invalid spec, an apply that failed, a child owned by someone else. */
  problem?: ReconcileProblem | undefined;
  /**
   * The kubelet's `FailedMount` Events about these pods: the only place a missing auth Secret (or
   * key) shows, since the operator has no read access to Secrets and the pod just waits.
   */
  mountEvents?: readonly CoreV1Event[] | undefined;
}

/** Container waiting reasons that mean a pod will not get better on its own. */
const FAILING_WAITING_REASONS = new Set([
  'CrashLoopBackOff',
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]);

/**
 * The status a ModelDeployment should have, computed from what was observed: pure, so
 * `status(md, observed, now)` twice with the same inputs gives the same answer, and the caller
 * writes only when it differs from what is stored.
 */
export function computeStatus(
  md: ParsedModelDeployment,
  observed: Observed,
  now: Date,
): ModelDeploymentStatus {
  const name = md.metadata.name ?? '';
  const namespace = md.metadata.namespace ?? '';
  const generation = md.metadata.generation;
  const previous = (md.status as ModelDeploymentStatus | undefined)?.conditions as Condition[] | undefined;
  const desired = md.spec.replicas;
  const { deployment, service } = observed;
  const depStatus = deployment?.status ?? {};
  const replicas = depStatus.replicas ?? 0;
  const ready = depStatus.readyReplicas ?? 0;
  const updated = depStatus.updatedReplicas ?? 0;
  const available = depStatus.availableReplicas ?? 0;

  const conditions = (() => {
    const set = (list: Condition[], update: Omit<ConditionUpdate, 'observedGeneration'>) =>
      setCondition(
        list,
        { ...update, ...(generation !== undefined ? { observedGeneration: generation } : {}) },
        now,
      );
    let list = previous ? [...previous] : [];

    const mountEvents = observed.mountEvents ?? [];
    const problem =
      observed.problem ??
      workloadProblem(deployment, observed.pods, (pod) => mountProblem(md, pod, mountEvents));
    // The Deployment controller has not looked at the newest Deployment spec yet: nothing
    // observed says anything about the current generation.
    const current =
      deployment?.metadata?.generation !== undefined &&
      (depStatus.observedGeneration ?? 0) >= deployment.metadata.generation;
    // A problem of the operator's own (invalid spec, failed apply, missing model source) means the
    // spec is not what runs, however ready the pods look.
    const complete =
      observed.problem === undefined &&
      current &&
      service !== undefined &&
      replicas === desired &&
      updated === desired &&
      ready === desired &&
      available >= desired;

    if (problem) {
      list = set(list, {
        type: 'Degraded',
        status: 'True',
        reason: problem.reason,
        message: problem.message,
      });
    } else if (!current) {
      list = set(list, {
        type: 'Degraded',
        status: 'Unknown',
        reason: 'Reconciling',
        message: 'waiting for the Deployment controller to observe the predictor Deployment',
      });
    } else {
      list = set(list, {
        type: 'Degraded',
        status: 'False',
        reason: 'AsExpected',
        message: 'no problem observed',
      });
    }

    if (complete) {
      list = set(list, {
        type: 'Ready',
        status: 'True',
        reason: desired === 0 ? 'ScaledToZero' : 'ReplicasReady',
        message:
          desired === 0
            ? 'scaled to zero replicas: nothing serves the endpoints'
            : `${ready}/${desired} replicas ready with the model loaded`,
      });
      list = set(list, {
        type: 'Progressing',
        status: 'False',
        reason: 'RolloutComplete',
        message: 'no rollout or scale under way',
      });
    } else if (!current && !problem) {
      const message = deployment
        ? 'waiting for the predictor Deployment to be observed'
        : 'creating the predictor Deployment';
      list = set(list, { type: 'Ready', status: 'Unknown', reason: 'Reconciling', message });
      list = set(list, { type: 'Progressing', status: 'Unknown', reason: 'Reconciling', message });
    } else {
      list = set(list, {
        type: 'Ready',
        status: 'False',
        reason: problem ? problem.reason : 'ReplicasNotReady',
        message: `${ready}/${desired} replicas ready, ${updated} running the current spec${problem ? `: ${problem.message}` : ''}`,
      });
      const stuck = problem?.reason === 'ProgressDeadlineExceeded' || observed.problem !== undefined;
      list = set(
        list,
        stuck
          ? {
              type: 'Progressing',
              status: 'False',
              reason: problem?.reason ?? 'Stuck',
              message: problem?.message ?? '',
            }
          : {
              type: 'Progressing',
              status: 'True',
              reason: updated < desired ? 'RollingOut' : replicas !== desired ? 'Scaling' : 'WaitingForReady',
              message: `${updated}/${desired} replicas updated, ${ready} ready, ${replicas} exist`,
            },
      );
    }
    list = setKstatusConditions(list, set);
    // A fixed order, so the stored list and a recomputed one compare equal.
    const order = ['Ready', 'Progressing', 'Degraded', 'Reconciling', 'Stalled'];
    return list.sort((a, b) => rank(order, a.type) - rank(order, b.type));
  })();

  const status: ModelDeploymentStatus = {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    replicas,
    readyReplicas: ready,
    updatedReplicas: updated,
    conditions,
    selector: selectorString(name),
    model: { name: md.spec.model.name, ...(md.spec.model.sha256 ? { sha256: md.spec.model.sha256 } : {}) },
  };
  if (service) {
    const port = service.spec?.ports?.[0]?.port ?? md.spec.server.port;
    const host = `${name}.${namespace}.svc.cluster.local:${port}`;
    status.endpoints = {
      rest: `http://${host}`,
      infer: `http://${host}/v2/models/${md.spec.model.name}/infer`,
      websocket: `ws://${host}/ws`,
    };
  }
  return status;
}

/**
 * kstatus's "abnormal-true" pair, derived from Ready/Progressing/Degraded. kstatus (Flux, kpt,
 * cli-utils apply) reads a custom resource as Current as soon as status.observedGeneration
 * matches, unless `Reconciling` (→ InProgress) or `Stalled` (→ Failed) is True; without them a
 * ModelDeployment still rolling out would read as done. Reconciling: True while not Ready and
 * not stalled, with Progressing's reason and message. Stalled: Degraded's status (True/False),
 * reason and message.
 */
function setKstatusConditions(
  list: Condition[],
  set: (list: Condition[], update: Omit<ConditionUpdate, 'observedGeneration'>) => Condition[],
): Condition[] {
  const ready = list.find((condition) => condition.type === 'Ready');
  const progressing = list.find((condition) => condition.type === 'Progressing');
  const degraded = list.find((condition) => condition.type === 'Degraded');
  const stalled = degraded?.status === 'True';
  const mirror = (condition: Condition | undefined) => ({
    reason: condition?.reason ?? 'Reconciling',
    message: condition?.message ?? '',
  });
  const reconciling =
    ready?.status === 'True'
      ? { type: 'Reconciling', status: 'False' as const, ...mirror(ready) }
      : stalled
        ? { type: 'Reconciling', status: 'False' as const, ...mirror(degraded) }
        : { type: 'Reconciling', status: 'True' as const, ...mirror(progressing) };
  const next = set(list, reconciling);
  return set(next, { type: 'Stalled', status: stalled ? 'True' : 'False', ...mirror(degraded) });
}

const rank = (order: string[], type: string): number => {
  const index = order.indexOf(type);
  return index < 0 ? order.length : index;
};

/** The first thing wrong with the Deployment or its pods, with the pod's own reason and message. */
export function workloadProblem(
  deployment: V1Deployment | undefined,
  pods: readonly V1Pod[],
  /** A problem known from outside the pod's own status (its FailedMount Events). */
  podEvents?: (pod: V1Pod) => ReconcileProblem | undefined,
): ReconcileProblem | undefined {
  for (const pod of [...pods].sort((a, b) =>
    (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''),
  )) {
    if (pod.metadata?.deletionTimestamp) continue;
    const problem = podProblem(pod) ?? podEvents?.(pod);
    if (problem) return problem;
  }
  for (const condition of deployment?.status?.conditions ?? []) {
    if (condition.type === 'Progressing' && condition.reason === 'ProgressDeadlineExceeded') {
      return {
        reason: 'ProgressDeadlineExceeded',
        message: condition.message ?? 'rollout exceeded its progress deadline',
      };
    }
    if (condition.type === 'ReplicaFailure' && condition.status === 'True') {
      return { reason: condition.reason ?? 'ReplicaFailure', message: condition.message ?? '' };
    }
  }
  return undefined;
}

/**
 * Why a pod that is not Ready waits for a volume, from the kubelet's `FailedMount` Events about it
 * (matched by namespace, name and uid; the first by message, so the answer is stable while the
 * kubelet retries and bumps the Event's count). The auth token volume gets its own reason,
 * `AuthSecretMissing`, naming the Secret and the field; other volumes keep the kubelet's reason.
 * Once the pod is Ready (or going away) its old Events say nothing any more.
 */
export function mountProblem(
  md: ParsedModelDeployment,
  pod: V1Pod,
  events: readonly CoreV1Event[],
): ReconcileProblem | undefined {
  const name = pod.metadata?.name ?? '';
  if (pod.metadata?.deletionTimestamp) return undefined;
  if (pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return undefined;
  const about = events
    .filter(
      (event) =>
        event.reason === 'FailedMount' &&
        event.involvedObject.kind === 'Pod' &&
        event.involvedObject.name === name &&
        event.involvedObject.namespace === pod.metadata?.namespace &&
        (!event.involvedObject.uid || !pod.metadata?.uid || event.involvedObject.uid === pod.metadata.uid),
    )
    .map((event) => event.message?.trim() || 'a volume cannot be mounted')
    .sort();
  const message = about[0];
  if (message === undefined) return undefined;
  const volume = /for volume "([^"]+)"/.exec(message)?.[1];
  const secret = md.spec.server.authSecretRef?.name;
  if (secret !== undefined && volume === AUTH_VOLUME) {
    return {
      reason: 'AuthSecretMissing',
      message: clip(
        `pod ${name}: Secret "${secret}" (spec.server.authSecretRef.name) must exist in namespace ${pod.metadata?.namespace ?? ''} with key "token": ${message}`,
      ),
    };
  }
  return { reason: 'FailedMount', message: clip(`pod ${name}: ${message}`) };
}

/**
 * Why a pod is failing, if it is: a container (or init container) stuck in a failing waiting
 * state, or terminated with an error. A termination message of the form `Reason: details` (what
 * `kinfer fetch-model` and the runtime write on a model failure) gives the reason, e.g.
 * `ModelChecksumMismatch` or `ModelLoadFailed`; otherwise the kubelet's reason is used.
 */
export function podProblem(pod: V1Pod): ReconcileProblem | undefined {
  const name = pod.metadata?.name ?? '';
  const status = pod.status;
  if (!status) return undefined;
  const check = (containers: V1ContainerStatus[] | undefined, init: boolean) => {
    for (const container of containers ?? []) {
      const found = containerProblem(container, init);
      if (found) {
        return {
          reason: found.reason,
          message: `pod ${name}, container ${container.name}: ${found.message}`,
        };
      }
    }
    return undefined;
  };
  const found = check(status.initContainerStatuses, true) ?? check(status.containerStatuses, false);
  if (found) return found;
  if (status.phase === 'Failed') {
    return { reason: status.reason ?? 'PodFailed', message: `pod ${name}: ${status.message ?? 'failed'}` };
  }
  const scheduled = status.conditions?.find((condition) => condition.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    return { reason: 'Unschedulable', message: `pod ${name}: ${scheduled.message ?? 'cannot be scheduled'}` };
  }
  return undefined;
}

function containerProblem(container: V1ContainerStatus, init: boolean): ReconcileProblem | undefined {
  const waiting = container.state?.waiting;
  const terminated = container.state?.terminated;
  const lastTerminated = container.lastState?.terminated;
  if (waiting?.reason && FAILING_WAITING_REASONS.has(waiting.reason)) {
    const termination = parseTerminationMessage(lastTerminated?.message);
    if (termination && waiting.reason === 'CrashLoopBackOff') return termination;
    // The kubelet's reason for the last exit (OOMKilled, Error) says what its message may not: a
    // container the kernel killed leaves no termination message, only the tail of its log.
    const lastExit =
      lastTerminated &&
      `last exit: ${lastTerminated.reason ?? 'Error'} (exit code ${lastTerminated.exitCode})${lastTerminated.message?.trim() ? `: ${lastTerminated.message.trim()}` : ''}`;
    const parts = [waiting.message, lastExit];
    return { reason: waiting.reason, message: clip(parts.filter(Boolean).join('; ') || waiting.reason) };
  }
  if (terminated && terminated.exitCode !== 0) {
    const termination = parseTerminationMessage(terminated.message);
    if (termination) return termination;
    return {
      reason: init ? 'InitContainerFailed' : (terminated.reason ?? 'Error'),
      message: clip(terminated.message ?? `exited with code ${terminated.exitCode}`),
    };
  }
  return undefined;
}

/** `ModelLoadFailed: no such file` → {reason, message}; anything else → undefined (with a message kept by the caller). */
export function parseTerminationMessage(message: string | undefined): ReconcileProblem | undefined {
  if (!message) return undefined;
  const trimmed = message.trim();
  const match = /^([A-Z][A-Za-z0-9]{2,63}): ([\s\S]*)$/.exec(trimmed);
  if (!match) return undefined;
  return { reason: match[1]!, message: clip(match[2]!.trim()) };
}

const clip = (text: string): string => (text.length > 1024 ? `${text.slice(0, 1021)}...` : text);
