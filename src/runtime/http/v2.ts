import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import {
  type V2InferRequest,
  V2InferRequestSchema,
  V2InferResponseSchema,
  type V2ModelConfig,
  V2ModelConfigSchema,
  type V2ModelMetadata,
  V2ModelMetadataSchema,
  V2ModelReadySchema,
  V2ServerLiveSchema,
  V2ServerMetadataSchema,
  V2ServerReadySchema,
} from '../../api/v2.ts';
import { InvalidInputError, ModelNotFoundError, NotReadyError } from '../errors.ts';
import type { ModelSignature, ServingPredictor } from '../inference/predictor.ts';
import { addBufferParser } from './body-reader.ts';
import {
  binaryBodyParser,
  jsonBodyParser,
  type OffLoopBinaryHeaderParser,
  type OffLoopJsonParser,
  ReadBinaryBody,
  ReadV2Body,
} from './json-body.ts';
import { errorResponse } from './openapi.ts';
import { checkTensorData, flattenTensorData } from './tensor.ts';
import {
  binaryResponse,
  fp32FromBytes,
  inferenceHeaderLength,
  jsonResponse,
  splitBinaryBody,
} from './v2-binary.ts';
import type { FastTensorData } from './v2-json.ts';
import { jsonSchema, parseInput } from './zod.ts';

export interface V2Options {
  predictor: ServingPredictor;
  /** Most images one infer request may carry (split across batches by the batcher). */
  maxBatch: number;
  serverVersion: string;
  /** JSON bodies nesting deeper than this are refused before they are parsed (json-body.ts). */
  maxJsonDepth: number;
  /** Parses large JSON bodies off the event loop (json-body.ts). */
  offLoopJson: OffLoopJsonParser;
  /** Parses the large JSON header of a binary tensor data body off the event loop (json-body.ts). */
  offLoopBinaryHeader: OffLoopBinaryHeaderParser;
  /** The batcher's settings, for the model configuration. */
  batching: { maxBatchSize: number; maxDelayMs: number };
}

/** The one model version served. */
const modelVersion = '1';
/** An infer request's input is its own (read from its body): it may move to a worker uncopied. */
const giveUp = { transfer: true } as const;

const tags = ['V2 inference protocol'];
/**
 * Path parameters of the unversioned and the versioned form of each model route: the one model
 * and version served (anything else is a 404), so a client or fuzzer reading the document knows.
 */
const modelRoutes = (model: string, path: string) => {
  const params = (withVersion: boolean) => ({
    type: 'object',
    required: withVersion ? ['model', 'version'] : ['model'],
    properties: {
      model: { type: 'string', enum: [model] },
      ...(withVersion ? { version: { type: 'string', enum: [modelVersion] } } : {}),
    },
  });
  return [
    { url: `/v2/models/:model${path}`, params: params(false) },
    { url: `/v2/models/:model/versions/:version${path}`, params: params(true) },
  ];
};
const errors = { 503: errorResponse('the model is not loaded yet (or failed to load)') };

/** The Open Inference Protocol (KServe V2) REST endpoints. */
export async function v2Routes(
  app: FastifyInstance,
  { predictor, maxBatch, serverVersion, batching, maxJsonDepth, offLoopJson, offLoopBinaryHeader }: V2Options,
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

  // Binary tensor data: Triton's clients send it as octet-stream or with no (or any other)
  // content type, so on these routes every non-JSON body is read raw and split by the handler.
  addBufferParser(app, '*', binaryBodyParser(offLoopBinaryHeader));
  // JSON bodies: the common well-formed request read in one pass (v2-json.ts), anything else as
  // the app's own JSON parser reads it on every other route (same errors: depth, prototype
  // poisoning), large ones off the event loop (json-body.ts).
  app.removeContentTypeParser('application/json');
  addBufferParser(app, 'application/json', jsonBodyParser(maxJsonDepth, true, offLoopJson));

  app.get(
    '/v2',
    { schema: { tags, summary: 'Server metadata', response: { 200: jsonSchema(V2ServerMetadataSchema) } } },
    async () => ({
      name: 'kinfer',
      version: serverVersion,
      extensions: ['binary_tensor_data'],
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

  /** A GET model route and its versioned twin: the model checked, then answered when ready. */
  const modelGet = <T>(
    path: string,
    summary: string,
    response: z.ZodType,
    answer: (signature: ModelSignature) => T,
  ) => {
    for (const { url, params } of modelRoutes(predictor.model.name, path)) {
      const schema = { tags, summary, params, response: { 200: jsonSchema(response), ...errors } };
      app.get(url, { schema }, async (request): Promise<T> => {
        checkModel(request.params as { model: string; version?: string });
        return answer(readySignature());
      });
    }
  };

  modelGet('', 'Model metadata', V2ModelMetadataSchema, ({ inputs, outputs }): V2ModelMetadata => {
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
  });
  modelGet('/ready', 'Model ready', V2ModelReadySchema, () => ({ name: predictor.model.name, ready: true }));
  modelGet(
    '/config',
    "Model configuration (Triton's extension)",
    V2ModelConfigSchema,
    (signature): V2ModelConfig => {
      const dims = (t: { shape: number[] }) => t.shape.slice(1);
      return {
        name: predictor.model.name,
        platform: 'onnxruntime_onnx',
        backend: 'onnxruntime',
        max_batch_size: maxBatch,
        input: signature.inputs.map((t) => ({
          name: t.name,
          data_type: 'TYPE_FP32',
          format: 'FORMAT_NONE',
          dims: dims(t),
        })),
        output: signature.outputs.map((t) => ({ name: t.name, data_type: 'TYPE_FP32', dims: dims(t) })),
        dynamic_batching: {
          preferred_batch_size: [batching.maxBatchSize],
          max_queue_delay_microseconds: Math.round(batching.maxDelayMs * 1000),
        },
        version_policy: { latest: { num_versions: 1 } },
      };
    },
  );

  /** What every infer request checks against, worked out once per signature (not per request). */
  let expected:
    | { signature: ModelSignature; rest: number[]; valuesPerImage: number; shapeText: string }
    | undefined;
  const expectations = (signature: ModelSignature) => {
    if (expected?.signature !== signature) {
      const rest = signature.inputs[0]!.shape.slice(1);
      const valuesPerImage = rest.reduce((a, b) => a * b, 1);
      expected = { signature, rest, valuesPerImage, shapeText: `[N,${rest.join(',')}]` };
    }
    return expected;
  };

  const infer = async (request: FastifyRequest, reply: FastifyReply) => {
    const params = request.params as { model: string; version?: string };
    checkModel(params);
    const signature = readySignature();
    const { inputs, outputs } = signature;
    let body: V2InferRequest;
    let binary: Buffer | undefined;
    /** Bytes of the body before `binary` (its parsed JSON header), free to reuse. */
    let headerLength = 0;
    let fastData: FastTensorData | undefined;
    if (request.body instanceof ReadV2Body) {
      body = request.body.request ?? parseInput(V2InferRequestSchema, request.body.json);
      fastData = request.body.data;
    } else if (request.body instanceof ReadBinaryBody) {
      // A large JSON header, read off the event loop; the tensor follows it in the same bytes.
      const { bytes, header } = request.body;
      if (header.kind === 'refused') throw new InvalidInputError(header.message);
      headerLength = request.body.headerLength;
      binary = bytes.subarray(headerLength);
      fastData = header.data;
      body = parseInput(V2InferRequestSchema, header.json);
    } else {
      const split = Buffer.isBuffer(request.body)
        ? splitBinaryBody(request.body, request.headers[inferenceHeaderLength], maxJsonDepth)
        : { json: request.body, binary: undefined, data: undefined };
      binary = split.binary;
      if (binary) headerLength = binary.byteOffset - (request.body as Buffer).byteOffset;
      fastData = split.data;
      body = parseInput(V2InferRequestSchema, split.json);
    }
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
    const { rest, valuesPerImage, shapeText } = expectations(signature);
    const count = input.shape[0]!;
    let shapeOk = input.shape.length === modelInput.shape.length;
    for (let i = 0; shapeOk && i < rest.length; i++)
      shapeOk = rest[i] === -1 || rest[i] === input.shape[i + 1];
    if (!shapeOk || count < 1 || count > maxBatch) {
      throw new InvalidInputError(
        `inputs[0].shape: expected ${shapeText} with 1 <= N <= ${maxBatch}, got [${input.shape.join(',')}]`,
      );
    }
    const wantedOutputs = body.outputs ?? [];
    for (let i = 0; i < wantedOutputs.length; i++) {
      if (wantedOutputs[i]!.name !== modelOutput.name) {
        throw new InvalidInputError(
          `outputs[${i}].name: the model has no output "${wantedOutputs[i]!.name}" (expected "${modelOutput.name}")`,
        );
      }
    }
    const values = count * valuesPerImage;
    const data = fastData
      ? checkTensorData(fastData.values, fastData.depth, values, 'inputs[0].data', input.shape.length)
      : readInputData(input, values, binary, headerLength, input.shape.length);
    const probabilities = await predictor.predict(data, count, giveUp);
    const name = predictor.model.name;
    const shape = [count, probabilities.length / count];
    const binaryOutput =
      body.outputs?.[0]?.parameters?.binary_data ?? body.parameters?.binary_data_output ?? false;
    if (!binaryOutput) {
      const outputs = [{ name: modelOutput.name, datatype: 'FP32', shape, data: [] }];
      const response =
        body.id === undefined
          ? { model_name: name, model_version: modelVersion, outputs }
          : { model_name: name, model_version: modelVersion, id: body.id, outputs };
      return reply
        .header('content-type', 'application/json; charset=utf-8')
        .send(jsonResponse(response, probabilities));
    }
    const output = {
      name: modelOutput.name,
      datatype: 'FP32',
      shape,
      parameters: { binary_data_size: probabilities.byteLength },
    };
    const answer = binaryResponse(
      body.id === undefined
        ? { model_name: name, model_version: modelVersion, outputs: [output] }
        : { model_name: name, model_version: modelVersion, id: body.id, outputs: [output] },
      probabilities,
    );
    return reply
      .header('content-type', 'application/octet-stream')
      .header(inferenceHeaderLength, String(answer.headerLength))
      .send(answer.body);
  };
  const binary = { type: 'string', format: 'binary' };
  for (const { url, params } of modelRoutes(predictor.model.name, '/infer')) {
    const schema = {
      tags,
      summary: 'Inference',
      description: `FP32 input "input" of shape [N,1,28,28] (pixels 0..1, white on black), N up to ${maxBatch}; data flat or nested. With the binary tensor data extension, a JSON header of Inference-Header-Content-Length bytes and the raw tensor, in and out. Bodies may be gzip or deflate (Content-Encoding).`,
      params,
      body: {
        content: {
          'application/json': { schema: jsonSchema(V2InferRequestSchema) },
          'application/octet-stream': { schema: binary },
        },
      },
      response: {
        200: {
          description: 'the outputs, as JSON, or with binary outputs a JSON header and the raw tensor',
          content: {
            'application/json': { schema: jsonSchema(V2InferResponseSchema) },
            'application/octet-stream': { schema: binary },
          },
        },
        ...errors,
      },
    };
    app.post(url, { schema }, infer);
  }
}

/** The input's values: JSON `data`, or its binary bytes after the JSON header. */
function readInputData(
  input: V2InferRequest['inputs'][number],
  values: number,
  binary: Buffer | undefined,
  headerLength: number,
  rank: number,
): Float32Array {
  const size = input.parameters?.binary_data_size;
  if (size === undefined) {
    if (binary && binary.length > 0) {
      throw new InvalidInputError(
        'body: bytes after the JSON header, but no input has parameters.binary_data_size',
      );
    }
    if (input.data === undefined)
      throw new InvalidInputError('inputs[0].data: required (or binary_data_size with binary data)');
    return flattenTensorData(input.data, values, 'inputs[0].data', rank);
  }
  if (input.data !== undefined)
    throw new InvalidInputError('inputs[0].data: not allowed together with binary_data_size');
  if (size !== values * 4) {
    throw new InvalidInputError(
      `inputs[0].parameters.binary_data_size: expected ${values * 4} bytes (${values} FP32 values), got ${size}`,
    );
  }
  if (!binary || binary.length !== size) {
    throw new InvalidInputError(
      `body: expected ${size} bytes of tensor data after the JSON header, got ${binary?.length ?? 0}`,
    );
  }
  // The JSON header before the tensor is parsed already: the tensor may move into its last bytes.
  return fp32FromBytes(binary, 'inputs[0] binary data', headerLength);
}
