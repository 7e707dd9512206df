import type { FastifyInstance } from 'fastify';
import {
  V2ErrorSchema,
  V2InferRequestSchema,
  type V2InferResponse,
  V2InferResponseSchema,
  type V2ModelMetadata,
  V2ModelMetadataSchema,
  V2ModelReadySchema,
  V2ServerLiveSchema,
  V2ServerMetadataSchema,
  V2ServerReadySchema,
} from '../../api/v2.ts';
import { InvalidInputError, ModelNotFoundError, NotReadyError } from '../errors.ts';
import type { ModelSignature, ServingPredictor } from '../inference/predictor.ts';
import { flattenTensorData } from './tensor.ts';
import { jsonSchema, parseInput } from './zod.ts';

export interface V2Options {
  predictor: ServingPredictor;
  /** Most images one infer request may carry (split across batches by the batcher). */
  maxBatch: number;
  serverVersion: string;
}

/** The one model version served. */
const modelVersion = '1';

const errors = {
  400: jsonSchema(V2ErrorSchema),
  404: jsonSchema(V2ErrorSchema),
  503: jsonSchema(V2ErrorSchema),
};
const tags = ['V2 inference protocol'];
const modelParams = {
  type: 'object',
  properties: { model: { type: 'string' }, version: { type: 'string' } },
} as const;

/** The Open Inference Protocol (KServe V2) REST endpoints. */
export async function v2Routes(
  app: FastifyInstance,
  { predictor, maxBatch, serverVersion }: V2Options,
): Promise<void> {
  const readySignature = (): ModelSignature => {
    if (!predictor.ready || !predictor.signature) throw new NotReadyError(predictor.loadError);
    return predictor.signature;
  };
  const checkModel = (params: { model: string; version?: string }) => {
    if (params.model !== predictor.model.name) throw new ModelNotFoundError(params.model);
    if (params.version !== undefined && params.version !== modelVersion) {
      throw new ModelNotFoundError(`${params.model}/versions/${params.version}`);
    }
  };

  app.get(
    '/v2',
    { schema: { tags, summary: 'Server metadata', response: { 200: jsonSchema(V2ServerMetadataSchema) } } },
    async () => ({
      name: 'kinfer',
      version: serverVersion,
      extensions: [],
    }),
  );

  app.get(
    '/v2/health/live',
    { schema: { tags, summary: 'Server live', response: { 200: jsonSchema(V2ServerLiveSchema) } } },
    async () => ({
      live: true,
    }),
  );

  app.get(
    '/v2/health/ready',
    {
      schema: {
        tags,
        summary: 'Server ready (model loaded and warmed up)',
        response: { 200: jsonSchema(V2ServerReadySchema), ...errors },
      },
    },
    async () => {
      readySignature();
      return { ready: true };
    },
  );

  const metadata = async (request: { params: unknown }): Promise<V2ModelMetadata> => {
    const params = request.params as { model: string; version?: string };
    checkModel(params);
    const { inputs, outputs } = readySignature();
    const describe = (t: { name: string; shape: number[] }) => ({
      name: t.name,
      datatype: 'FP32',
      shape: t.shape,
    });
    return {
      name: predictor.model.name,
      versions: [modelVersion],
      platform: 'onnxruntime_onnx',
      inputs: inputs.map(describe),
      outputs: outputs.map(describe),
    };
  };
  const metadataSchema = {
    tags,
    summary: 'Model metadata',
    params: modelParams,
    response: { 200: jsonSchema(V2ModelMetadataSchema), ...errors },
  };
  app.get('/v2/models/:model', { schema: metadataSchema }, metadata);
  app.get('/v2/models/:model/versions/:version', { schema: metadataSchema }, metadata);

  const ready = async (request: { params: unknown }) => {
    const params = request.params as { model: string; version?: string };
    checkModel(params);
    readySignature();
    return { name: predictor.model.name, ready: true };
  };
  const readySchema = {
    tags,
    summary: 'Model ready',
    params: modelParams,
    response: { 200: jsonSchema(V2ModelReadySchema), ...errors },
  };
  app.get('/v2/models/:model/ready', { schema: readySchema }, ready);
  app.get('/v2/models/:model/versions/:version/ready', { schema: readySchema }, ready);

  const infer = async (request: { params: unknown; body: unknown }): Promise<V2InferResponse> => {
    const params = request.params as { model: string; version?: string };
    checkModel(params);
    const { inputs, outputs } = readySignature();
    const body = parseInput(V2InferRequestSchema, request.body);
    const modelInput = inputs[0]!;
    const modelOutput = outputs[0]!;
    if (body.inputs.length !== 1) {
      throw new InvalidInputError(
        `inputs: the model takes exactly one input, "${modelInput.name}"; got ${body.inputs.length}`,
      );
    }
    const input = body.inputs[0]!;
    if (input.name !== modelInput.name) {
      throw new InvalidInputError(
        `inputs[0].name: the model has no input "${input.name}" (expected "${modelInput.name}")`,
      );
    }
    if (input.datatype !== 'FP32')
      throw new InvalidInputError(`inputs[0].datatype: expected FP32, got ${input.datatype}`);
    if (input.parameters?.binary_data_size !== undefined) {
      throw new InvalidInputError(
        'inputs[0].parameters.binary_data_size: binary tensor data is not supported, send JSON data',
      );
    }
    const rest = modelInput.shape.slice(1);
    const count = input.shape[0]!;
    const shapeOk =
      input.shape.length === modelInput.shape.length &&
      rest.every((d, i) => d === -1 || d === input.shape[i + 1]);
    if (!shapeOk || count < 1 || count > maxBatch) {
      throw new InvalidInputError(
        `inputs[0].shape: expected [N,${rest.join(',')}] with 1 <= N <= ${maxBatch}, got [${input.shape.join(',')}]`,
      );
    }
    for (const [i, wanted] of (body.outputs ?? []).entries()) {
      if (wanted.name !== modelOutput.name) {
        throw new InvalidInputError(
          `outputs[${i}].name: the model has no output "${wanted.name}" (expected "${modelOutput.name}")`,
        );
      }
    }
    const perImage = rest.reduce((a, b) => a * b, 1);
    const data = flattenTensorData(input.data, count * perImage, 'inputs[0].data');
    const probabilities = await predictor.predict(data, count);
    const perRow = probabilities.length / count;
    return {
      model_name: predictor.model.name,
      model_version: modelVersion,
      ...(body.id !== undefined ? { id: body.id } : {}),
      outputs: [
        {
          name: modelOutput.name,
          shape: [count, ...modelOutput.shape.slice(1).map((d) => (d > 0 ? d : perRow))],
          datatype: 'FP32',
          data: Array.from(probabilities),
        },
      ],
    };
  };
  const inferSchema = {
    tags,
    summary: 'Inference',
    description: `FP32 input "input" of shape [N,1,28,28] (pixels 0..1, white on black), N up to ${maxBatch}; data flat or nested.`,
    params: modelParams,
    body: jsonSchema(V2InferRequestSchema),
    response: { 200: jsonSchema(V2InferResponseSchema), ...errors },
  };
  app.post('/v2/models/:model/infer', { schema: inferSchema }, infer);
  app.post('/v2/models/:model/versions/:version/infer', { schema: inferSchema }, infer);
}
