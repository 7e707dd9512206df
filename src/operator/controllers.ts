import { inferenceJobController } from './inferencejob/controller.ts';
import type { ControllerSetup } from './manager.ts';
import { modelDeploymentController } from './modeldeployment/controller.ts';

/** Every controller the operator runs; each kind adds its setup here. */
export const controllers: ControllerSetup[] = [modelDeploymentController, inferenceJobController];
