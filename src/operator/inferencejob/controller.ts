import { FIELD_MANAGER } from '../../kube/apply.ts';
import { Controller } from '../../kube/controller.ts';
import type { InformerEvent } from '../../kube/informer.ts';
import {
  controllerOf,
  InferenceJobs,
  Jobs,
  type KubeObject,
  keyOf,
  ModelDeployments,
  Services,
} from '../../kube/resources.ts';
import type { ControllerSetup, OperatorContext } from '../manager.ts';
import { defaultRunnerConfig, type RunnerConfig } from './desired.ts';
import { InferenceJobReconciler } from './reconciler.ts';
import type { RunnerAccess } from './runner-client.ts';

const BY_MODEL = 'modelDeployment';
const jobSelector = 'app.kubernetes.io/managed-by=kinfer-operator,app.kubernetes.io/component=job-runner';

export interface InferenceJobSettings {
  runnerAccess: RunnerAccess;
  /** Image and pull policy default to the operator's predictor image (one image holds everything). */
  runner?: Partial<RunnerConfig>;
  statusIntervalMs?: number;
}

/**
 * Wires the InferenceJob reconciler into the operator. `kinfer operator` fills the settings from
 * its flags (`--job-runner-url`, `--job-linger-seconds`); tests pass their own.
 */
export function inferenceJobControllerWith(settings: InferenceJobSettings): ControllerSetup {
  return (ctx: OperatorContext) => {
    const inferenceJobs = ctx.cache(InferenceJobs);
    const modelDeployments = ctx.cache(ModelDeployments);
    const jobs = ctx.cache(Jobs, { labelSelector: jobSelector });
    const services = ctx.cache(Services, { labelSelector: jobSelector, managedFieldsOf: FIELD_MANAGER });
    const reconciler = new InferenceJobReconciler({
      client: ctx.client,
      caches: { inferenceJobs, modelDeployments, jobs, services },
      recorder: ctx.recorder,
      runner: {
        ...defaultRunnerConfig,
        image: ctx.options.predictor.image,
        ...(ctx.options.predictor.imagePullPolicy
          ? { imagePullPolicy: ctx.options.predictor.imagePullPolicy }
          : {}),
        ...settings.runner,
      },
      runnerAccess: settings.runnerAccess,
      ...(settings.statusIntervalMs !== undefined ? { statusIntervalMs: settings.statusIntervalMs } : {}),
      logger: ctx.logger('operator.inferencejob'),
    });
    const controller = new Controller({
      name: 'InferenceJob',
      reconcile: (key) => reconciler.reconcile(key),
      concurrency: ctx.options.concurrency ?? 4,
      resyncMs: ctx.options.resyncMs ?? 10 * 60_000,
      keys: () => inferenceJobs.list().map((ij) => keyOf(ij.metadata)),
      ...ctx.controllerHooks('InferenceJob'),
    });
    inferenceJobs.onEvent(({ object }) => controller.enqueue(keyOf(object.metadata)));
    const toOwner = ({ object }: InformerEvent<KubeObject>) => {
      const owner = controllerOf(object.metadata);
      if (owner?.kind === InferenceJobs.kind)
        controller.enqueue(keyOf({ namespace: object.metadata.namespace, name: owner.name }));
    };
    jobs.onEvent(toOwner);
    services.onEvent(toOwner);
    // A ModelDeployment that appears or becomes Ready releases the jobs waiting for it.
    // Found by index (`namespace/modelDeploymentRef.name`), not by scanning every InferenceJob.
    inferenceJobs.addIndex(BY_MODEL, (ij) => {
      const ref = (ij.spec as { modelDeploymentRef?: { name?: string } } | undefined)?.modelDeploymentRef;
      return ref?.name ? [keyOf({ namespace: ij.metadata.namespace, name: ref.name })] : [];
    });
    modelDeployments.onEvent(({ object }) => {
      for (const ij of inferenceJobs.byIndex(BY_MODEL, keyOf(object.metadata))) {
        controller.enqueue(keyOf(ij.metadata));
      }
    });
    return controller;
  };
}
