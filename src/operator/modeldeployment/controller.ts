import { FIELD_MANAGER } from '../../kube/apply.ts';
import { Controller } from '../../kube/controller.ts';
import type { InformerEvent } from '../../kube/informer.ts';
import {
  controllerOf,
  Deployments,
  Events,
  type KubeObject,
  keyOf,
  ModelDeployments,
  Pods,
  Services,
} from '../../kube/resources.ts';
import { DEFAULT_CONCURRENCY, type OperatorContext } from '../manager.ts';
import { MANAGED_BY } from './desired.ts';
import { ModelDeploymentReconciler } from './reconciler.ts';

/** Children are cached by label, so the operator never holds every Deployment of the cluster. */
const childSelector = `app.kubernetes.io/managed-by=${MANAGED_BY},app.kubernetes.io/component=predictor`;
const podSelector = 'app.kubernetes.io/name=kinfer,app.kubernetes.io/component=predictor';
/**
 * The kubelet's word on a volume it cannot mount (a missing auth Secret or key): the only trace of
 * it, read from Events so the operator needs no access to Secrets. Selected on the server, so the
 * cache holds only these, in the watched namespaces.
 */
export const mountEventSelector = 'involvedObject.kind=Pod,reason=FailedMount';

/**
 * Wires the ModelDeployment reconciler: its own objects by key, owned Deployments and Services
 * through their controller owner reference, pods through their instance label (a pod's owner is
 * a ReplicaSet, not the ModelDeployment).
 */
export function modelDeploymentController(ctx: OperatorContext): Controller {
  const modelDeployments = ctx.cache(ModelDeployments);
  const deployments = ctx.cache(Deployments, {
    labelSelector: childSelector,
    managedFieldsOf: FIELD_MANAGER,
  });
  const services = ctx.cache(Services, { labelSelector: childSelector, managedFieldsOf: FIELD_MANAGER });
  const pods = ctx.cache(Pods, { labelSelector: podSelector });
  const mountEvents = ctx.cache(Events, { fieldSelector: mountEventSelector });
  const reconciler = new ModelDeploymentReconciler({
    client: ctx.client,
    caches: { modelDeployments, deployments, services, pods, mountEvents },
    recorder: ctx.recorder,
    config: ctx.options.predictor,
    logger: ctx.logger('operator.modeldeployment'),
  });
  const controller = new Controller({
    name: 'ModelDeployment',
    reconcile: (key) => reconciler.reconcile(key),
    concurrency: ctx.options.concurrency ?? DEFAULT_CONCURRENCY,
    resyncMs: ctx.options.resyncMs ?? 10 * 60_000,
    keys: () => modelDeployments.list().map((md) => keyOf(md.metadata)),
    ...ctx.controllerHooks('ModelDeployment'),
  });
  modelDeployments.onEvent(({ object }) => controller.enqueue(keyOf(object.metadata)));
  const toOwner = ({ object }: InformerEvent<KubeObject>) => {
    const owner = controllerOf(object.metadata);
    if (owner?.kind === ModelDeployments.kind && owner.apiVersion.startsWith(`${ModelDeployments.group}/`)) {
      controller.enqueue(keyOf({ namespace: object.metadata.namespace, name: owner.name }));
    }
  };
  deployments.onEvent(toOwner);
  services.onEvent(toOwner);
  pods.onEvent(({ object, old }) => {
    // Only what status reads: a pod's status, or its coming and going.
    if (
      old &&
      JSON.stringify(old.status) === JSON.stringify(object.status) &&
      !object.metadata.deletionTimestamp
    )
      return;
    const instance = object.metadata.labels?.['app.kubernetes.io/instance'];
    if (instance) controller.enqueue(keyOf({ namespace: object.metadata.namespace, name: instance }));
  });
  // An Event about a predictor pod goes to the pod's ModelDeployment (by the pod's instance label);
  // Events about other pods are ignored. A repeat that only bumps `count` changes no status, so it
  // costs a reconcile and no write.
  mountEvents.onEvent(({ object }) => {
    const involved = (object as { involvedObject?: { namespace?: string; name?: string } }).involvedObject;
    const pod = involved?.name
      ? pods.get(keyOf({ namespace: involved.namespace, name: involved.name }))
      : undefined;
    const instance = pod?.metadata.labels?.['app.kubernetes.io/instance'];
    if (instance) controller.enqueue(keyOf({ namespace: pod.metadata.namespace, name: instance }));
  });
  return controller;
}
