import { z } from 'zod';
import { tensorEncodings } from './v2-codec.ts';

/** `kinfer job` settings: every flag is also KINFER_<FLAG> (the operator sets them as env in the pod). */
export const JobOptionsSchema = z.object({
  name: z.string().min(1, 'the InferenceJob name is required').describe("the InferenceJob's name"),
  namespace: z
    .string()
    .min(1, 'the InferenceJob namespace is required')
    .describe("the InferenceJob's namespace"),
  port: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .default(8080)
    .describe('port of the runner (/v1/jobs/NAME, /ws/jobs/NAME, /healthz); 0 picks a free one'),
  host: z.string().default('0.0.0.0').describe('address the runner listens on'),
  modelEndpoint: z
    .url()
    .optional()
    .describe(
      "the V2 infer URL, or a base URL to which /v2/models/<model-name>/infer is appended; unset: the ModelDeployment's endpoint, read from the API",
    ),
  modelName: z
    .string()
    .min(1)
    .default('mnist-cnn')
    .describe('the model named in the infer URL made from a base --model-endpoint'),
  spec: z
    .string()
    .optional()
    .describe(
      'the InferenceJob spec (or the whole object) as JSON; unset: --spec-file, else read from the API',
    ),
  specFile: z.string().optional().describe('a file holding the spec (or the whole object) as JSON'),
  inputFile: z
    .string()
    .optional()
    .describe('the bytes of a configMap input (the operator mounts the key here); unset: read from the API'),
  lingerSeconds: z.coerce
    .number()
    .min(0)
    .max(3600)
    .default(30)
    .describe(
      'seconds the runner keeps serving once the job is over, so clients and the operator read the end',
    ),
  concurrency: z.coerce.number().int().min(1).max(64).default(4).describe('batch requests in flight at once'),
  progressIntervalMs: z.coerce
    .number()
    .int()
    .min(10)
    .max(60_000)
    .default(250)
    .describe('how often a progress message goes out while images are classified'),
  tensorEncoding: z
    .enum(tensorEncodings)
    .default('binary')
    .describe("binary: Triton's binary tensor extension, JSON if the server refuses it; json: JSON only"),
  terminationLogPath: z
    .string()
    .optional()
    .describe(
      "where to leave the final summary as the container's termination message (the operator sets /dev/termination-log); unset or empty: not written",
    ),
});
export type JobOptions = z.infer<typeof JobOptionsSchema>;
