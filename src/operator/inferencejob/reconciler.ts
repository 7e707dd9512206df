import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { type InferenceJobStatus, parseInferenceJob } from '../../api/index.ts';
import type { JobTerminationSummary } from '../../api/jobs.ts';
import type { ObjectCache } from '../../kube/cache.ts';
import {
  type ChildOutcome,
  childFailure,
  ensureChild,
  foreignChild,
  readChild,
} from '../../kube/children.ts';
import { isNotFound, type KubeClient } from '../../kube/client.ts';
import { type Condition, findCondition } from '../../kube/conditions.ts';
import type { ReconcileResult } from '../../kube/controller.ts';
import type { EventRecorder } from '../../kube/events.ts';
import {
  InferenceJobs,
  Jobs,
  type KubeObject,
  keyOf,
  Pods,
  resourcePath,
  Services,
  splitKey,
} from '../../kube/resources.ts';
import { createLogger, type Logger } from '../../log.ts';
import { describeError } from '../../shared/errors.ts';
import {
  type ChildProblem,
  childObject,
  childProblem,
  type EnsuredChild,
  reportChildChanges,
} from '../children.ts';
import { sameStatus, type TransitionEvent, writeStatus } from '../status-write.ts';
import {
  desiredJob,
  desiredService,
  type ParsedInferenceJob,
  type RunnerConfig,
  selectorLabels,
} from './desired.ts';
import { type RunnerAccess, readRunner } from './runner-client.ts';
import { computeStatus, isFinished, type ModelObservation, type Observed } from './status.ts';
import { readTerminationSummary } from './termination.ts';

export interface InferenceJobDeps {
  client: KubeClient;
  caches: {
    inferenceJobs: ObjectCache<KubeObject>;
    modelDeployments: ObjectCache<KubeObject>;
    /** batch/v1 Jobs with the runner labels. */
    jobs: ObjectCache<KubeObject>;
    /** The preview Services (the same labels). */
    services: ObjectCache<KubeObject>;
  };
  recorder: EventRecorder;
  runner: RunnerConfig;
  runnerAccess: RunnerAccess;
  /** At most one status write per job per this many ms; also how often a running job's runner is read. */
  statusIntervalMs?: number;
  logger?: Logger;
}

/**
 * The InferenceJob reconciler: waits for the ModelDeployment, creates the runner Job and its
 * preview Service (server-side apply, owned), copies the runner's progress and outcome into the
 * status at a bounded rate, and deletes a finished job after ttlSecondsAfterFinished (its
 * children go with it through their owner references).
 */
export class InferenceJobReconciler {
  private readonly log: Logger;
  private readonly lastWrite = new Map<string, number>();
  private readonly interval: number;

  constructor(private readonly deps: InferenceJobDeps) {
    this.log = deps.logger ?? createLogger('operator.inferencejob');
    this.interval = deps.statusIntervalMs ?? 2000;
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    const raw = this.deps.caches.inferenceJobs.get(key);
    if (!raw || raw.metadata.deletionTimestamp) {
      this.lastWrite.delete(key);
      return undefined;
    }
    let ij: ParsedInferenceJob;
    try {
      ij = parseInferenceJob(raw) as ParsedInferenceJob;
    } catch (error) {
      // The CRD's schema and CEL rules should make this impossible; say so instead of retrying forever.
      this.log.error(
        { event: 'inferencejob.invalid', key, err: describeError(error) },
        'InferenceJob does not parse',
      );
      return undefined;
    }
    const now = new Date();
    if (isFinished(ij.status)) return this.expire(ij, now);

    const { namespace, name } = splitKey(key);
    const model = this.observeModel(namespace, ij.spec.modelDeploymentRef.name);
    const { job, problem } = await this.ensureChildren(ij, model);

    const observed: Observed = {
      model,
      job,
      runner: undefined,
      ...(problem ? { problem: { reason: problem.reason, message: problem.message } } : {}),
    };
    if (job) {
      observed.runner = await readRunner(this.deps.runnerAccess, this.deps.client, name, namespace);
      const ended = (...types: string[]) =>
        job?.status?.conditions?.some((c) => types.includes(c.type) && c.status === 'True') ?? false;
      const runnerFinal =
        observed.runner.reachable &&
        (observed.runner.snapshot.phase === 'Succeeded' || observed.runner.snapshot.phase === 'Failed');
      const failed = ended('Failed', 'FailureTarget');
      if (failed || (ended('Complete', 'SuccessCriteriaMet') && !runnerFinal)) {
        observed.pods = await this.listPods(namespace, name);
        if (!runnerFinal) observed.terminated = this.terminationSummary(key, observed.pods, name, namespace);
      }
    }
    const status = computeStatus(ij, observed, now);
    const result = await this.writeStatus(ij, status, now);
    // A transient failure goes back to the queue's backoff, after the status says what went wrong.
    if (problem?.retry) throw problem.retry;
    if (problem?.requeueAfterMs !== undefined)
      return { requeueAfterMs: Math.min(problem.requeueAfterMs, result?.requeueAfterMs ?? Infinity) };
    return result;
  }

  /**
   * The runner Job (created once the model is Ready, never updated: a Job's template is
   * immutable) and its preview Service (kept as desired). Neither is taken over from another
   * owner, and nothing is created unless both names are free or ours: the Job's name is checked
   * first (a foreign Job must not leave a Service behind), and the Job is created only once the
   * Service is ours (the operator reads the runner through it, so it must not be someone else's).
   */
  private async ensureChildren(
    ij: ParsedInferenceJob,
    model: ModelObservation,
  ): Promise<{ job: V1Job | undefined; problem: ChildProblem | undefined }> {
    const { client, caches, recorder, runner } = this.deps;
    const key = keyOf(ij.metadata);
    const name = ij.metadata.name ?? '';
    let existingJob = caches.jobs.get(key);
    const creating = !existingJob && model.found && model.ready && model.infer !== undefined;
    if (!existingJob && !creating) return { job: undefined, problem: undefined };
    const children: EnsuredChild[] = [];
    try {
      // The Job cache selects the runner labels, blind to a foreign Job of this name.
      existingJob ??= await readChild(client, Jobs, ij.metadata.namespace, name);
    } catch (error) {
      children.push({ type: Jobs, name, outcome: childFailure(Jobs, name, 'read', error) });
      return { job: undefined, problem: childProblem(children) };
    }
    const jobConflict = existingJob && foreignChild(Jobs, ij, existingJob);
    if (jobConflict) {
      children.push({ type: Jobs, name, outcome: jobConflict });
      return { job: undefined, problem: childProblem(children) };
    }
    const service = desiredService(ij) as KubeObject;
    const serviceName = service.metadata.name ?? '';
    children.push({
      type: Services,
      name: serviceName,
      outcome: await ensureChild({
        client,
        type: Services,
        owner: ij,
        desired: service,
        cached: caches.services.get(keyOf({ namespace: ij.metadata.namespace, name: serviceName })),
      }),
    });
    let jobOutcome: ChildOutcome | undefined;
    if (existingJob) {
      jobOutcome = { kind: 'unchanged', object: existingJob };
    } else if (!childProblem(children)) {
      jobOutcome = await ensureChild({
        client,
        type: Jobs,
        owner: ij,
        desired: desiredJob(ij, model.found ? (model.infer ?? '') : '', runner) as KubeObject,
      });
    }
    if (jobOutcome) children.push({ type: Jobs, name, outcome: jobOutcome });
    reportChildChanges(ij, children, recorder, this.log);
    return {
      job: childObject<V1Job>(children.find((child) => child.type === Jobs)),
      problem: childProblem(children),
    };
  }

  /** The runner's summary from its pods' termination messages; a malformed one is logged and ignored. */
  private terminationSummary(
    key: string,
    pods: V1Pod[],
    name: string,
    namespace: string,
  ): JobTerminationSummary | undefined {
    const { summary, invalid } = readTerminationSummary(pods, name, namespace);
    for (const bad of invalid) {
      this.log.warn(
        { event: 'inferencejob.termination_message.invalid', key, ...bad },
        'ignoring a termination message that is not a valid runner summary',
      );
    }
    if (summary)
      this.log.info(
        { event: 'inferencejob.termination_message.read', key, phase: summary.phase },
        "final state read from the runner pod's termination message",
      );
    return summary;
  }

  private observeModel(namespace: string, name: string): ModelObservation {
    const md = this.deps.caches.modelDeployments.get(`${namespace}/${name}`);
    if (!md) return { found: false };
    const status = md.status as { conditions?: Condition[]; endpoints?: { infer?: string } } | undefined;
    const ready = findCondition(status?.conditions, 'Ready');
    const generation = md.metadata.generation;
    const current =
      ready?.observedGeneration === undefined ||
      generation === undefined ||
      ready.observedGeneration === generation;
    return {
      found: true,
      ready: ready?.status === 'True' && current,
      reason: ready?.reason ?? 'NoReadyCondition',
      message: ready?.message ?? 'the ModelDeployment has no Ready condition yet',
      infer: status?.endpoints?.infer,
    };
  }

  private async listPods(namespace: string, name: string): Promise<V1Pod[]> {
    const selector = Object.entries(selectorLabels(name))
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const list = await this.deps.client.request<{ items: V1Pod[] }>(
      'GET',
      resourcePath(Pods, { namespace }),
      { query: { labelSelector: selector } },
    );
    return list.items;
  }

  /** Writes status when it changed, at most once per interval; asks to be called again while running. */
  private async writeStatus(
    ij: ParsedInferenceJob,
    status: InferenceJobStatus,
    now: Date,
  ): Promise<ReconcileResult | undefined> {
    const key = keyOf(ij.metadata);
    const finished = isFinished(status);
    const pollAgain = finished ? this.ttlRemaining(ij, status, now) : this.interval;
    if (sameStatus(ij.status, status))
      return pollAgain === undefined ? undefined : { requeueAfterMs: pollAgain };
    const since = now.getTime() - (this.lastWrite.get(key) ?? 0);
    if (since < this.interval) return { requeueAfterMs: this.interval - since };
    if (!(await writeStatus(this.deps, InferenceJobs, ij, status, inferenceJobEvent))) return undefined;
    this.lastWrite.set(key, now.getTime());
    this.log.info(
      { event: 'inferencejob.status', key, phase: status.phase, progress: status.progress?.percent },
      'status written',
    );
    return pollAgain === undefined ? undefined : { requeueAfterMs: pollAgain };
  }

  private ttlRemaining(ij: ParsedInferenceJob, status: InferenceJobStatus, now: Date): number | undefined {
    if (!status.completionTime) return undefined;
    const due = new Date(status.completionTime).getTime() + ij.spec.ttlSecondsAfterFinished * 1000;
    return Math.max(0, due - now.getTime());
  }

  /** A finished job is deleted once ttlSecondsAfterFinished has passed; its Job and Service follow. */
  private async expire(ij: ParsedInferenceJob, now: Date): Promise<ReconcileResult | undefined> {
    const remaining = this.ttlRemaining(ij, ij.status ?? {}, now);
    if (remaining === undefined) return undefined;
    if (remaining > 0) return { requeueAfterMs: remaining };
    try {
      await this.deps.client.request(
        'DELETE',
        resourcePath(InferenceJobs, { namespace: ij.metadata.namespace, name: ij.metadata.name }),
        {
          body: {
            kind: 'DeleteOptions',
            apiVersion: 'v1',
            propagationPolicy: 'Background',
            preconditions: { uid: ij.metadata.uid },
          },
        },
      );
      this.log.info(
        {
          event: 'inferencejob.expired',
          key: keyOf(ij.metadata),
          ttlSeconds: ij.spec.ttlSecondsAfterFinished,
        },
        'deleted finished InferenceJob',
      );
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    return undefined;
  }
}

/**
 * The Event an InferenceJob condition transition deserves: every Ready and Succeeded transition
 * (Reconciling and Stalled restate them for kstatus, so their Events would be duplicates).
 */
export const inferenceJobEvent: TransitionEvent = ({ type, to }) => {
  if (type === 'Reconciling' || type === 'Stalled') return undefined;
  const warning = (type === 'Succeeded' && to.status === 'False') || to.reason === 'ModelDeploymentNotFound';
  return { type: warning ? 'Warning' : 'Normal', reason: to.reason };
};
