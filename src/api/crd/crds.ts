// Builds both CustomResourceDefinitions from the zod schemas: the single source of truth for crds/,
// the chart's crds/ and kustomize's config/crd.
import { z } from 'zod';
import { category, type ResourceDescriptor } from '../common.ts';
import {
  InferenceJobSpecSchema,
  InferenceJobStatusSchema,
  inferenceJobResource,
  inferenceJobRootRules,
} from '../inferencejob.ts';
import {
  ModelDeploymentSpecSchema,
  ModelDeploymentStatusSchema,
  modelDeploymentResource,
  modelDeploymentRootRules,
} from '../modeldeployment.ts';
import { type JsonSchema, toStructural } from './structural.ts';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  priority?: number;
}

interface KindDefinition {
  resource: ResourceDescriptor;
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  rootRules: readonly { rule: string; message: string }[];
  printerColumns: PrinterColumn[];
  scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath: string };
}

const condition = (type: string, field = 'status') => `.status.conditions[?(@.type=="${type}")].${field}`;
const age: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: 'Time since the resource was created.',
};

export const kinds: KindDefinition[] = [
  {
    resource: modelDeploymentResource,
    description:
      'ModelDeployment serves an ONNX model over REST (KServe V2 and /v1/predict) and WebSocket from a set of predictor pods. The operator turns it into a Deployment and a Service; status says when it is Ready and where to connect.',
    spec: ModelDeploymentSpecSchema,
    status: ModelDeploymentStatusSchema,
    rootRules: modelDeploymentRootRules,
    printerColumns: [
      {
        name: 'Ready',
        type: 'string',
        jsonPath: condition('Ready'),
        description: 'Whether every replica serves the current model.',
      },
      {
        name: 'Replicas',
        type: 'integer',
        jsonPath: '.spec.replicas',
        description: 'Desired predictor pods.',
      },
      {
        name: 'Available',
        type: 'integer',
        jsonPath: '.status.readyReplicas',
        description: 'Predictor pods ready with the model loaded.',
      },
      {
        name: 'Model',
        type: 'string',
        jsonPath: '.spec.model.name',
        description: 'Name the model is served under.',
      },
      {
        name: 'Endpoint',
        type: 'string',
        jsonPath: '.status.endpoints.rest',
        description: 'REST base URL inside the cluster.',
      },
      {
        name: 'Reason',
        type: 'string',
        jsonPath: condition('Ready', 'reason'),
        description: 'Reason of the Ready condition.',
        priority: 1,
      },
      age,
    ],
    scale: {
      specReplicasPath: '.spec.replicas',
      statusReplicasPath: '.status.replicas',
      labelSelectorPath: '.status.selector',
    },
  },
  {
    resource: inferenceJobResource,
    description:
      'InferenceJob classifies a batch of images through a ModelDeployment as a Kubernetes Job, streaming live progress and previews over WebSocket; status carries the preview endpoint, progress and result.',
    spec: InferenceJobSpecSchema,
    status: InferenceJobStatusSchema,
    rootRules: inferenceJobRootRules,
    printerColumns: [
      {
        name: 'Phase',
        type: 'string',
        jsonPath: '.status.phase',
        description: 'Pending, Running, Succeeded or Failed.',
      },
      {
        name: 'Percent',
        type: 'integer',
        jsonPath: '.status.progress.percent',
        description: 'Progress in whole percent.',
      },
      {
        name: 'Processed',
        type: 'integer',
        jsonPath: '.status.progress.processed',
        description: 'Images classified so far.',
      },
      {
        name: 'Total',
        type: 'integer',
        jsonPath: '.status.progress.total',
        description: 'Images to classify.',
      },
      {
        name: 'Model',
        type: 'string',
        jsonPath: '.spec.modelDeploymentRef.name',
        description: 'The ModelDeployment used.',
      },
      {
        name: 'Accuracy',
        type: 'number',
        jsonPath: '.status.result.accuracy',
        description: 'Fraction predicted correctly, when labels exist.',
        priority: 1,
      },
      {
        name: 'Preview',
        type: 'string',
        jsonPath: '.status.previewEndpoint',
        description: 'WebSocket URL of the live preview stream.',
        priority: 1,
      },
      age,
    ],
  },
];

const jsonSchemaOf = (schema: z.ZodType): JsonSchema =>
  z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'throw' }) as JsonSchema;

/** The CRD for one kind, as a plain object in the order kubectl shows it. */
export function buildCrd(kind: KindDefinition): Record<string, unknown> {
  const { resource } = kind;
  const openAPIV3Schema = {
    description: kind.description,
    type: 'object',
    properties: {
      apiVersion: {
        description:
          'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.',
        type: 'string',
      },
      kind: {
        description:
          'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. In CamelCase.',
        type: 'string',
      },
      metadata: { type: 'object' },
      spec: toStructural(jsonSchemaOf(kind.spec), '.spec'),
      status: toStructural(jsonSchemaOf(kind.status), '.status'),
    },
    required: ['spec'],
    'x-kubernetes-validations': kind.rootRules.map(({ rule, message }) => ({ rule, message })),
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${resource.plural}.${resource.group}`,
      labels: { 'app.kubernetes.io/name': 'kinfer', 'app.kubernetes.io/part-of': 'kinfer' },
      // Argo CD: CRDs before the operator and any custom resource.
      annotations: { 'argocd.argoproj.io/sync-wave': '-1' },
    },
    spec: {
      group: resource.group,
      names: {
        kind: resource.kind,
        listKind: resource.listKind,
        plural: resource.plural,
        singular: resource.singular,
        shortNames: [...resource.shortNames],
        categories: [category],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: resource.version,
          served: true,
          storage: true,
          additionalPrinterColumns: kind.printerColumns,
          schema: { openAPIV3Schema },
          subresources: { status: {}, ...(kind.scale ? { scale: kind.scale } : {}) },
        },
      ],
    },
  };
}

/** File name under crds/, kubebuilder style: `<group>_<plural>.yaml`. */
export const crdFileName = (kind: KindDefinition): string =>
  `${kind.resource.group}_${kind.resource.plural}.yaml`;
