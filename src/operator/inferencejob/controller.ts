import { z } from 'zod';
import { parseOptions } from '../../cli/options.ts';
import { InferenceJobs, ModelDeployments } from '../../jobs/kube.ts';
import { Controller } from '../core/controller.ts';
import { controllerOf, Jobs, keyOf } from '../core/resources.ts';
import type { ControllerSetup, OperatorContext } from '../manager.ts';
import { defaultRunnerConfig, type RunnerConfig } from './desired.ts';
import { InferenceJobReconciler } from './reconciler.ts';
import { parseRunnerAccess, type RunnerAccess } from './runner-client.ts';

const jobSelector = 'app.kubernetes.io/managed-by=kinfer-operator,app.kubernetes.io/component=job-runner';

export interface InferenceJobSettings {
  runnerAccess: RunnerAccess;
  /** Image and pull policy default to the operator's predictor image (one image holds everything). */
  runner?: Partial<RunnerConfig>;
  statusIntervalMs?: number;
}

/**
 * The operator's InferenceJob settings from the environment: `KINFER_JOB_RUNNER_URL` (a URL
 * template such as `http://{service}.{namespace}.svc.cluster.local:{port}`, the default, or
 * `apiserver-proxy` for an operator outside the cluster) and `KINFER_JOB_LINGER_SECONDS`.
 */
export const InferenceJobEnvSchema = z.object({
  jobRunnerUrl: z.string().optional(),
  jobLingerSeconds: z.coerce.number().int().min(0).max(3600).default(defaultRunnerConfig.lingerSeconds),
});

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): InferenceJobSettings {
  const { options } = parseOptions(InferenceJobEnvSchema, [], env);
  return {
    runnerAccess: parseRunnerAccess(options.jobRunnerUrl),
    runner: { lingerSeconds: options.jobLingerSeconds },
  };
}

/** Wires the InferenceJob reconciler into the operator, with explicit settings (tests) ... */
export function inferenceJobControllerWith(settings: InferenceJobSettings): ControllerSetup {
  return (ctx: OperatorContext) => {
    const inferenceJobs = ctx.cache(InferenceJobs);
    const modelDeployments = ctx.cache(ModelDeployments);
    const jobs = ctx.cache(Jobs, { labelSelector: jobSelector });
    const reconciler = new InferenceJobReconciler({
      client: ctx.client,
      caches: { inferenceJobs, modelDeployments, jobs },
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
    jobs.onEvent(({ object }) => {
      const owner = controllerOf(object.metadata);
      if (owner?.kind === InferenceJobs.kind)
        controller.enqueue(keyOf({ namespace: object.metadata.namespace, name: owner.name }));
    });
    // A ModelDeployment that appears or becomes Ready releases the jobs waiting for it.
    modelDeployments.onEvent(({ object }) => {
      for (const ij of inferenceJobs.list()) {
        const ref = (ij.spec as { modelDeploymentRef?: { name?: string } } | undefined)?.modelDeploymentRef;
        if (ij.metadata.namespace === object.metadata.namespace && ref?.name === object.metadata.name) {
          controller.enqueue(keyOf(ij.metadata));
        }
      }
    });
    return controller;
  };
}

/** ... or from the environment (the `kinfer operator` process). */
export const inferenceJobController: ControllerSetup = (ctx) =>
  inferenceJobControllerWith(settingsFromEnv())(ctx);
