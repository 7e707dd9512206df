import { z } from 'zod';
import {
  apiVersion,
  ConditionsSchema,
  customResourceSchema,
  exactlyOne,
  group,
  LocalObjectReferenceSchema,
  nameIsServiceName,
  type ResourceDescriptor,
  ResourceRequirementsSchema,
  requestsWithinLimits,
  version,
  withRules,
} from './common.ts';
import { DEFAULT_PREDICTOR_RESOURCES, describeResources } from './default-resources.ts';
import { ServerLimitsSchema, ServerTimeoutsSchema } from './server-limits.ts';

export const modelDeploymentResource = {
  group,
  version,
  apiVersion,
  kind: 'ModelDeployment',
  listKind: 'ModelDeploymentList',
  plural: 'modeldeployments',
  singular: 'modeldeployment',
  shortNames: ['md'],
} as const satisfies ResourceDescriptor<'ModelDeployment'>;

/** Models shipped in the image under models/<name>/model.onnx. */
export const builtinModels = ['mnist-cnn', 'mnist-small'] as const;
export type BuiltinModel = (typeof builtinModels)[number];

const sha256 = z.string().regex(/^[a-f0-9]{64}$/);

export const ModelSourceSchema = withRules(
  z
    .object({
      builtin: z.enum(builtinModels).optional().meta({
        description:
          'A model shipped in the kinfer image: mnist-cnn, or mnist-small (same interface, a fraction of the compute; see models/<name>/MODEL_CARD.md).',
      }),
      uri: z
        .string()
        .max(2048)
        .regex(/^https?:\/\/[^\s]+$/)
        .optional()
        .meta({
          description:
            'An http(s) URL of an ONNX file, downloaded by an init container before the predictor starts. Requires model.sha256.',
        }),
      configMap: z
        .object({
          name: z
            .string()
            .min(1)
            .max(253)
            .meta({ description: 'Name of the ConfigMap in the same namespace.' }),
          key: z
            .string()
            .min(1)
            .max(253)
            .regex(/^[-._a-zA-Z0-9]+$/)
            .default('model.onnx')
            .meta({ description: 'Key of the ONNX file in the ConfigMap (binaryData or data).' }),
        })
        .optional()
        .meta({ description: 'An ONNX file stored under a key of a ConfigMap (up to 1 MiB).' }),
    })
    .meta({ description: 'Where the ONNX model comes from. Set exactly one of builtin, uri or configMap.' }),
  [exactlyOne(['builtin', 'uri', 'configMap'], 'model source')],
);

export const ModelSpecSchema = withRules(
  z
    .object({
      name: z
        .string()
        .min(1)
        .max(63)
        .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
        .meta({ description: 'Name the model is served under: /v2/models/<name>/infer.' }),
      source: ModelSourceSchema,
      sha256: sha256.optional().meta({
        description:
          'Expected SHA-256 (64 lowercase hex digits) of the ONNX file. Checked before the model is served; a mismatch makes the ModelDeployment Degraded.',
      }),
    })
    .meta({ description: 'The model to serve.' }),
  [
    {
      rule: '!has(self.source.uri) || has(self.sha256)',
      message: 'sha256 is required when the model is downloaded from a uri',
      fieldPath: '.sha256',
      check: (model) => model.source.uri === undefined || model.sha256 !== undefined,
    },
  ],
);

export const BatchingSchema = z
  .object({
    maxBatchSize: z
      .number()
      .int()
      .min(1)
      .max(1024)
      .default(32)
      .meta({ description: 'Most images the predictor runs through the model in one call (1-1024).' }),
    maxDelayMs: z.number().int().min(0).max(1000).default(2).meta({
      description:
        'Longest a request waits for others to fill a batch, in milliseconds (0-1000). 0 runs whatever is queued at once.',
    }),
  })
  .meta({ description: 'Dynamic batching: requests arriving together share one model call.' });

export const ServerSchema = z
  .object({
    port: z
      .number()
      .int()
      .min(1024)
      .max(65535)
      .default(8080)
      .meta({ description: 'Port the predictor serves REST, KServe V2 and WebSocket on (1024-65535).' }),
    maxConnections: z.number().int().min(1).max(100000).default(1000).meta({
      description:
        'Most open client connections per predictor pod, HTTP keep-alive connections and WebSocket sessions counted together in one budget. A connection over it gets its requests answered 503 with Retry-After and Connection: close, a WebSocket over it is closed with 1013. Health probes (/healthz, /readyz, /v2/health/*) and /metrics are always served and take no slot.',
    }),
    authSecretRef: LocalObjectReferenceSchema('Secret').optional().meta({
      description:
        'Secret whose "token" key clients must send as "Authorization: Bearer <token>". Omitted: no authentication.',
    }),
    limits: ServerLimitsSchema.optional(),
    timeouts: ServerTimeoutsSchema.optional(),
  })
  .meta({ description: 'Predictor server settings.' });

export const ModelDeploymentSpecSchema = z
  .object({
    model: ModelSpecSchema,
    replicas: z.number().int().min(0).max(1000).default(1).meta({
      description:
        'Number of predictor pods. Also settable through the scale subresource (kubectl scale, HPA).',
    }),
    image: z
      .string()
      .min(1)
      .max(1024)
      .optional()
      .meta({ description: "Predictor container image. Omitted: the operator's configured kinfer image." }),
    resources: withRules(ResourceRequirementsSchema, [requestsWithinLimits])
      .optional()
      .meta({
        description: `Compute resources of each predictor container (requests, limits), as in a container's resources. Omitted: the operator's defaults (${describeResources(DEFAULT_PREDICTOR_RESOURCES)}), no CPU limit; set, they replace those defaults whole.`,
      }),
    batching: BatchingSchema.prefault({}),
    server: ServerSchema.prefault({}),
  })
  .meta({ description: 'Desired state: which model to serve, how many replicas, and how.' });

export const EndpointsSchema = z
  .object({
    rest: z.string().optional().meta({ description: 'Base URL of the REST API inside the cluster.' }),
    infer: z.string().optional().meta({ description: 'KServe V2 infer URL of the model.' }),
    websocket: z.string().optional().meta({ description: 'WebSocket URL for live drawing sessions.' }),
  })
  .meta({ description: 'Where to connect, inside the cluster.' });

export const ModelDeploymentStatusSchema = z
  .object({
    observedGeneration: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta({ description: 'metadata.generation this status was computed from.' }),
    replicas: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta({ description: 'Predictor pods that exist (the scale subresource reads this).' }),
    readyReplicas: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta({ description: 'Predictor pods that are ready with the model loaded.' }),
    updatedReplicas: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta({ description: 'Predictor pods running the current spec.' }),
    conditions: ConditionsSchema.optional().meta({
      description:
        "Ready: every desired replica runs the current spec with the model loaded. Progressing: a rollout or scale is under way. Degraded: something needs attention (reason and the pod's own message).",
    }),
    endpoints: EndpointsSchema.optional(),
    model: z
      .object({
        name: z.string().optional().meta({ description: 'Name the model is served under.' }),
        sha256: z.string().optional().meta({ description: 'SHA-256 of the model being served.' }),
      })
      .optional()
      .meta({ description: 'The model being served.' }),
    selector: z.string().optional().meta({
      description: 'Label selector of the predictor pods, as a string (for the scale subresource and HPA).',
    }),
  })
  .meta({ description: 'Observed state, written by the operator.' });

export const modelDeploymentRootRules = [nameIsServiceName(63, 'the Service')];

export const ModelDeploymentSchema = customResourceSchema(
  'ModelDeployment',
  ModelDeploymentSpecSchema,
  ModelDeploymentStatusSchema,
  modelDeploymentRootRules,
);

export type ModelDeployment = z.output<typeof ModelDeploymentSchema>;
/** What a user writes: every defaulted field optional. */
export type ModelDeploymentInput = z.input<typeof ModelDeploymentSchema>;
export type ModelDeploymentSpec = z.output<typeof ModelDeploymentSpecSchema>;
export type ModelDeploymentStatus = z.output<typeof ModelDeploymentStatusSchema>;
export type ModelSource = z.output<typeof ModelSourceSchema>;
export type ModelSpec = z.output<typeof ModelSpecSchema>;
export type Batching = z.output<typeof BatchingSchema>;
export type ServerSettings = z.output<typeof ServerSchema>;
export type Endpoints = z.output<typeof EndpointsSchema>;
