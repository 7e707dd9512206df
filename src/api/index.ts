// The kinfer API: both custom resources, their constants and parsers. Wire schemas (v2.ts, predict.ts,
// ws.ts, jobs.ts) are imported from their own modules.
import { parseResource } from './common.ts';
import { type InferenceJob, InferenceJobSchema } from './inferencejob.ts';
import { type ModelDeployment, ModelDeploymentSchema } from './modeldeployment.ts';

export * from './common.ts';
export * from './inferencejob.ts';
export * from './modeldeployment.ts';

/** Validates an object read from the API (or a file) and applies the schema's defaults. */
export const parseModelDeployment = (value: unknown): ModelDeployment =>
  parseResource('ModelDeployment', ModelDeploymentSchema, value);

/** Validates an object read from the API (or a file) and applies the schema's defaults. */
export const parseInferenceJob = (value: unknown): InferenceJob =>
  parseResource('InferenceJob', InferenceJobSchema, value);
