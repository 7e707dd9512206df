import type { CoreV1Event, V1Deployment, V1Pod, V1Service } from '@kubernetes/client-node';
import { ModelDeploymentSpecSchema } from '../../api/modeldeployment.ts';
import type { ObjectCache } from '../../kube/cache.ts';
import { ensureChild } from '../../kube/children.ts';
import { isNotFound, type KubeClient } from '../../kube/client.ts';
import type { ReconcileResult } from '../../kube/controller.ts';
import type { EventRecorder } from '../../kube/events.ts';
import {
  ConfigMaps,
  Deployments,
  type KubeObject,
  keyOf,
  ModelDeployments,
  type ResourceType,
  resourcePath,
  Services,
} from '../../kube/resources.ts';
import type { Logger } from '../../log.ts';
import { childObject, childProblem, reportChildChanges } from '../children.ts';
import { type TransitionEvent, writeStatus } from '../status-write.ts';
import {
  desiredDeployment,
  desiredService,
  type ParsedModelDeployment,
  type PredictorConfig,
} from './desired.ts';
import { computeStatus, type ReconcileProblem } from './status.ts';

/** Pods by `namespace/instance` label; FailedMount Events by `namespace/pod`. */
const BY_INSTANCE = 'instance';
const BY_POD = 'involvedPod';

export interface ModelDeploymentCaches {
  modelDeployments: ObjectCache;
  deployments: ObjectCache;
  services: ObjectCache;
  pods: ObjectCache;
  /** Core Events `involvedObject.kind=Pod,reason=FailedMount` (field-selected, so few). */
  mountEvents?: ObjectCache | undefined;
}

export interface ModelDeploymentDeps {
  client: KubeClient;
  caches: ModelDeploymentCaches;
  recorder: EventRecorder;
  config: PredictorConfig;
  logger?: Logger;
  now?: () => Date;
}

/**
 * One pass over one ModelDeployment, as an ordered list of small steps:
 * read it from the cache → parse its spec → build the desired children (pure) → apply each one
 * that differs from what the apiserver has (server-side apply, controller owner reference) →
 * compute the status from what was observed (pure) → write it only if it changed → record an
 * Event per condition transition. Children of a deleted ModelDeployment go by garbage
 * collection (owner references), so there is no finalizer.
 */
export class ModelDeploymentReconciler {
  constructor(private readonly deps: ModelDeploymentDeps) {
    // A reconcile reads its own pods and their Events by index, never by scanning the namespace,
    // so its cost does not grow with the number of ModelDeployments.
    deps.caches.pods.addIndex(BY_INSTANCE, (pod) => {
      const instance = pod.metadata.labels?.['app.kubernetes.io/instance'];
      return instance ? [keyOf({ namespace: pod.metadata.namespace, name: instance })] : [];
    });
    deps.caches.mountEvents?.addIndex(BY_POD, (event) => {
      const pod = (event as unknown as CoreV1Event).involvedObject;
      return pod?.name ? [keyOf({ namespace: event.metadata.namespace, name: pod.name })] : [];
    });
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    const { caches } = this.deps;
    const raw = caches.modelDeployments.get(key);
    if (!raw || raw.metadata.deletionTimestamp) return undefined;

    const parsed = ModelDeploymentSpecSchema.safeParse(raw.spec);
    let problem: ReconcileProblem | undefined;
    let deployment = caches.deployments.get(key) as V1Deployment | undefined;
    let service = caches.services.get(key) as V1Service | undefined;
    let retry: unknown;

    if (!parsed.success) {
      problem = {
        reason: 'InvalidSpec',
        message: parsed.error.issues
          .map((issue) => `spec.${issue.path.join('.')}: ${issue.message}`)
          .join('; '),
      };
    }
    const md = { ...raw, spec: parsed.success ? parsed.data : raw.spec } as ParsedModelDeployment;

    let requeueAfterMs: number | undefined;
    if (!problem) {
      const { client, recorder, config, logger } = this.deps;
      const wanted: [ResourceType, KubeObject, KubeObject | undefined][] = [
        [Deployments, desiredDeployment(md, config) as KubeObject, deployment as KubeObject | undefined],
        [Services, desiredService(md) as KubeObject, service as KubeObject | undefined],
      ];
      // The children are independent: ensure them side by side (one round trip, not two).
      const children = await Promise.all(
        wanted.map(async ([type, desired, cached]) => ({
          type,
          name: desired.metadata.name ?? '',
          outcome: await ensureChild({ client, type, owner: md, desired, cached }),
        })),
      );
      deployment = childObject<V1Deployment>(children[0]);
      service = childObject<V1Service>(children[1]);
      reportChildChanges(md, children, recorder, logger);
      const failure = childProblem(children);
      if (failure) {
        problem = { reason: failure.reason, message: failure.message };
        retry = failure.retry;
        requeueAfterMs = failure.requeueAfterMs;
      }
    }

    // A ConfigMap model that is not there yet leaves pods waiting for their volume without any
    // failing state; say so, and look again later (ConfigMaps are not watched).
    if (!problem && md.spec.model.source.configMap) {
      problem = await this.checkConfigMap(md, md.spec.model.source.configMap);
      if (problem) requeueAfterMs = 30_000;
    }

    const pods = caches.pods.byIndex(BY_INSTANCE, key) as V1Pod[];
    const mountEvents = pods.flatMap(
      (pod) =>
        (caches.mountEvents?.byIndex(
          BY_POD,
          keyOf({ namespace: pod.metadata?.namespace, name: pod.metadata?.name }),
        ) ?? []) as unknown as CoreV1Event[],
    );
    const now = this.deps.now?.() ?? new Date();
    const status = computeStatus(md, { deployment, service, pods, problem, mountEvents }, now);
    await writeStatus(this.deps, ModelDeployments, md, status, modelDeploymentEvent);
    // A transient failure (apiserver unavailable, conflict) goes back to the queue's backoff,
    // after the status says what went wrong.
    if (retry) throw retry;
    return requeueAfterMs !== undefined ? { requeueAfterMs } : undefined;
  }

  private async checkConfigMap(
    md: ParsedModelDeployment,
    source: { name: string; key: string },
  ): Promise<ReconcileProblem | undefined> {
    try {
      const configMap = await this.deps.client.request<{
        data?: Record<string, string>;
        binaryData?: Record<string, string>;
      }>('GET', resourcePath(ConfigMaps, { namespace: md.metadata.namespace, name: source.name }));
      if (configMap.binaryData?.[source.key] === undefined && configMap.data?.[source.key] === undefined) {
        return {
          reason: 'ModelConfigMapKeyMissing',
          message: `ConfigMap ${source.name} has no key ${source.key} (spec.model.source.configMap.key)`,
        };
      }
      return undefined;
    } catch (error) {
      if (isNotFound(error)) {
        return {
          reason: 'ModelConfigMapNotFound',
          message: `ConfigMap ${source.name} (spec.model.source.configMap.name) does not exist in namespace ${md.metadata.namespace}`,
        };
      }
      throw error;
    }
  }
}

/** The Event a ModelDeployment condition transition deserves, if any (Unknown states are not news). */
export const modelDeploymentEvent: TransitionEvent = ({ type, from, to }) => {
  if (to.status === 'Unknown') return undefined;
  if (type === 'Ready')
    return to.status === 'True'
      ? { type: 'Normal', reason: 'Ready' }
      : from === 'True'
        ? { type: 'Warning', reason: 'NotReady' }
        : undefined;
  if (type === 'Degraded')
    return to.status === 'True'
      ? { type: 'Warning', reason: to.reason }
      : from === 'True'
        ? { type: 'Normal', reason: 'Recovered' }
        : undefined;
  if (type === 'Progressing' && to.status === 'True') return { type: 'Normal', reason: to.reason };
  return undefined;
};
