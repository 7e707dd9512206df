import { type InferenceJobSettings, inferenceJobControllerWith } from './inferencejob/controller.ts';
import { parseRunnerAccess } from './inferencejob/runner-client.ts';
import type { ControllerSetup } from './manager.ts';
import { modelDeploymentController } from './modeldeployment/controller.ts';

/** Every controller the operator runs; each kind adds its setup here. */
export const operatorControllers = (
  inferenceJobs: InferenceJobSettings = { runnerAccess: parseRunnerAccess(undefined) },
): ControllerSetup[] => [modelDeploymentController, inferenceJobControllerWith(inferenceJobs)];

/** The controllers with default settings (in-cluster runner URLs). */
export const controllers: ControllerSetup[] = operatorControllers();
