import { z } from 'zod';

/**
 * The Open Inference Protocol (KServe V2) over REST, as Triton and KServe clients speak it.
 * https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/
 * Only FP32 tensors are served; data as JSON, or as raw bytes with the binary tensor data
 * extension that Triton clients use by default (`binary_tensor_data` in the server metadata):
 * https://github.com/triton-inference-server/server/blob/main/docs/protocol/extension_binary_data.md
 */

export const V2ErrorSchema = z.object({ error: z.string() });

export const V2ServerLiveSchema = z.object({ live: z.boolean() });
export const V2ServerReadySchema = z.object({ ready: z.boolean() });
export const V2ModelReadySchema = z.object({ name: z.string(), ready: z.boolean() });

export const V2ServerMetadataSchema = z.object({
  name: z.string(),
  version: z.string(),
  extensions: z.array(z.string()),
});

export const V2TensorMetadataSchema = z.object({
  name: z.string(),
  datatype: z.string(),
  /** -1 for a variable dimension (the batch). */
  shape: z.array(z.number().int()),
});

export const V2ModelMetadataSchema = z.object({
  name: z.string(),
  versions: z.array(z.string()),
  platform: z.string(),
  inputs: z.array(V2TensorMetadataSchema),
  outputs: z.array(V2TensorMetadataSchema),
});

const parameters = z.record(z.string(), z.unknown()).optional();

export const V2RequestInputSchema = z.object({
  name: z.string(),
  shape: z.array(z.number().int().min(0)).min(1),
  datatype: z.string(),
  parameters: z
    .looseObject({
      binary_data_size: z
        .number()
        .int()
        .min(0)
        .optional()
        .describe('binary extension: the tensor is this many bytes after the JSON header'),
    })
    .optional(),
  // Checked element by element by the handler (flat or nested, finite numbers, count = shape).
  data: z
    .array(z.any())
    .optional()
    .describe(
      'the tensor in row-major order, flat or nested as the shape; FP32 numbers (absent for binary data)',
    ),
});

export const V2RequestOutputSchema = z.object({
  name: z.string(),
  parameters: z
    .looseObject({
      binary_data: z.boolean().optional().describe('binary extension: answer this output as raw bytes'),
    })
    .optional(),
});

export const V2InferRequestSchema = z.object({
  id: z.string().optional(),
  parameters: z
    .looseObject({
      binary_data_output: z
        .boolean()
        .optional()
        .describe('binary extension: answer every output as raw bytes'),
    })
    .optional(),
  inputs: z.array(V2RequestInputSchema).min(1),
  outputs: z.array(V2RequestOutputSchema).optional(),
});

export const V2ResponseOutputSchema = z.object({
  name: z.string(),
  shape: z.array(z.number().int()),
  datatype: z.string(),
  parameters,
  /** Absent when the output is sent as binary data after the JSON header. */
  data: z.array(z.number()).optional(),
});

export const V2InferResponseSchema = z.object({
  model_name: z.string(),
  model_version: z.string().optional(),
  id: z.string().optional(),
  parameters,
  outputs: z.array(V2ResponseOutputSchema),
});

const ConfigTensorSchema = z.object({
  name: z.string(),
  data_type: z.string().describe('Triton spelling: TYPE_FP32'),
  format: z.string().optional(),
  /** Without the batch dimension (it is `max_batch_size`). */
  dims: z.array(z.number().int()),
});

/**
 * Triton's model configuration extension (`GET /v2/models/{model}/config`), read by Triton's own
 * tools (perf_analyzer, model_analyzer) and `tritonclient`'s `get_model_config`.
 * https://github.com/triton-inference-server/server/blob/main/docs/protocol/extension_model_configuration.md
 */
export const V2ModelConfigSchema = z.object({
  name: z.string(),
  platform: z.string(),
  backend: z.string(),
  max_batch_size: z.number().int(),
  input: z.array(ConfigTensorSchema),
  output: z.array(ConfigTensorSchema),
  dynamic_batching: z.object({
    preferred_batch_size: z.array(z.number().int()),
    max_queue_delay_microseconds: z.number().int(),
  }),
  version_policy: z.object({ latest: z.object({ num_versions: z.number().int() }) }),
});

export type V2ModelConfig = z.infer<typeof V2ModelConfigSchema>;
export type V2InferRequest = z.infer<typeof V2InferRequestSchema>;
export type V2InferResponse = z.infer<typeof V2InferResponseSchema>;
export type V2ModelMetadata = z.infer<typeof V2ModelMetadataSchema>;
export type V2ServerMetadata = z.infer<typeof V2ServerMetadataSchema>;
