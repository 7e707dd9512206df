import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  type PredictInstance,
  PredictInstanceSchema,
  type Prediction,
  PredictManyResponseSchema,
  PredictRequestSchema,
  PredictResponseSchema,
} from '../../api/predict.ts';
import { V2ErrorSchema } from '../../api/v2.ts';
import { InvalidInputError } from '../errors.ts';
import type { ServingPredictor } from '../inference/predictor.ts';
import { fromPixels, fromStrokes, PIXELS } from '../preprocess/index.ts';
import { jsonSchema, parseInput } from './zod.ts';

export interface PredictOptions {
  predictor: ServingPredictor;
  maxInstances: number;
}

/** A preprocessed instance, or an InvalidInputError naming the field that was wrong with it. */
export async function preprocessInstance(
  instance: PredictInstance,
  field: string,
  predictor: Pick<ServingPredictor, 'preprocessPng'>,
): Promise<Float32Array> {
  try {
    if (instance.pixels) return fromPixels(instance.pixels);
    if (instance.image !== undefined) return await predictor.preprocessPng(decodeBase64(instance.image));
    return fromStrokes(instance.strokes ?? [], instance.width!, instance.height!);
  } catch (error) {
    if (error instanceof InvalidInputError)
      throw new InvalidInputError(`${field}${field ? '.' : ''}${error.message}`);
    throw error;
  }
}

/** Base64 (standard or URL-safe), optionally as a `data:image/png;base64,` URL. */
export function decodeBase64(value: string): Buffer {
  const payload = value.startsWith('data:') ? value.slice(value.indexOf(',') + 1) : value;
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(payload.replace(/\s+/g, ''))) {
    throw new InvalidInputError('image: not base64');
  }
  return Buffer.from(payload, 'base64');
}

/** The answer for one image; `image` (preprocessed) tells a blank canvas from a digit. */
export function toPrediction(probabilities: Float32Array, image?: Float32Array): Prediction {
  let best = 0;
  for (let i = 1; i < probabilities.length; i++) if (probabilities[i]! > probabilities[best]!) best = i;
  const prediction: Prediction = {
    prediction: best,
    confidence: probabilities[best]!,
    probabilities: Array.from(probabilities),
  };
  if (image?.every((v) => v === 0)) prediction.blank = true;
  return prediction;
}

const errors = { 400: jsonSchema(V2ErrorSchema), 503: jsonSchema(V2ErrorSchema) };

/** `POST /v1/predict`: pixels, a PNG or strokes (or `instances` of them), preprocessed MNIST-style. */
export async function predictRoutes(
  app: FastifyInstance,
  { predictor, maxInstances }: PredictOptions,
): Promise<void> {
  const many = z.object({ instances: z.array(PredictInstanceSchema).min(1).max(maxInstances) });
  app.post(
    '/v1/predict',
    {
      schema: {
        tags: ['Prediction'],
        summary: 'Classify handwritten digits',
        description: `One instance, or up to ${maxInstances} under "instances".`,
        body: jsonSchema(PredictRequestSchema),
        response: {
          200: { oneOf: [jsonSchema(PredictResponseSchema), jsonSchema(PredictManyResponseSchema)] },
          ...errors,
        },
      },
    },
    async (request) => {
      const started = performance.now();
      const body = request.body;
      const isMany = typeof body === 'object' && body !== null && 'instances' in body;
      const instances = isMany ? parseInput(many, body).instances : [parseInput(PredictInstanceSchema, body)];
      const images = new Float32Array(instances.length * PIXELS);
      const prepared = await Promise.all(
        instances.map((instance, i) =>
          preprocessInstance(instance, isMany ? `instances[${i}]` : '', predictor),
        ),
      );
      for (const [i, image] of prepared.entries()) images.set(image, i * PIXELS);
      const probabilities = await predictor.predict(images, instances.length);
      const perRow = probabilities.length / instances.length;
      const predictions = instances.map((_, i) =>
        toPrediction(probabilities.subarray(i * perRow, (i + 1) * perRow), prepared[i]),
      );
      const latencyMs = Math.round((performance.now() - started) * 100) / 100;
      const model = predictor.model;
      return isMany ? { predictions, model, latencyMs } : { ...predictions[0]!, model, latencyMs };
    },
  );
}
