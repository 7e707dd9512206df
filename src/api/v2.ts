import { z } from 'zod';

/**
 * The Open Inference Protocol (KServe V2) over REST, as Triton and KServe clients speak it.
 * https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/
 * Only FP32 tensors and JSON data are served (no binary tensor extension).
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
  parameters,
  // Checked element by element by the handler (flat or nested, finite numbers, count = shape).
  data: z.array(z.any()).describe('the tensor in row-major order, flat or nested as the shape; FP32 numbers'),
});

export const V2InferRequestSchema = z.object({
  id: z.string().optional(),
  parameters,
  inputs: z.array(V2RequestInputSchema).min(1),
  outputs: z.array(z.object({ name: z.string(), parameters })).optional(),
});

export const V2ResponseOutputSchema = z.object({
  name: z.string(),
  shape: z.array(z.number().int()),
  datatype: z.string(),
  parameters,
  data: z.array(z.number()),
});

export const V2InferResponseSchema = z.object({
  model_name: z.string(),
  model_version: z.string().optional(),
  id: z.string().optional(),
  parameters,
  outputs: z.array(V2ResponseOutputSchema),
});

export type V2InferRequest = z.infer<typeof V2InferRequestSchema>;
export type V2InferResponse = z.infer<typeof V2InferResponseSchema>;
export type V2ModelMetadata = z.infer<typeof V2ModelMetadataSchema>;
export type V2ServerMetadata = z.infer<typeof V2ServerMetadataSchema>;
