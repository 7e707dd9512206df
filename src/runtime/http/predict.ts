import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  type PredictInstance,
  type Prediction,
  PredictManyResponseSchema,
  PredictResponseSchema,
  predictSchemas,
} from '../../api/predict.ts';
import { V2ErrorSchema } from '../../api/v2.ts';
import { InvalidInputError, TooLargeError } from '../errors.ts';
import type { ServingPredictor } from '../inference/predictor.ts';
import type { RequestLimits } from '../limits.ts';
import { PIXELS } from '../preprocess/index.ts';
import { JobInputError, type PreprocessJob } from '../preprocess/jobs.ts';
import { pngDimensions } from '../preprocess/png.ts';
import { jsonSchema, parseInput } from './zod.ts';

export interface PredictOptions {
  predictor: ServingPredictor;
  maxInstances: number;
  limits: RequestLimits;
}

/** `instances[2].` before a message from the instance at `index` (nothing for a lone instance). */
const prefix = (isMany: boolean, index: number) => (isMany ? `instances[${index}].` : '');

/**
 * The preprocessing jobs of a request's instances, once the request as a whole is within the
 * limits on points and decoded pixels (413 naming the setting otherwise). Cheap: nothing here
 * depends on more than the sizes; the work itself runs on the preprocessing threads.
 */
export function preprocessJobs(
  instances: readonly PredictInstance[],
  isMany: boolean,
  limits: RequestLimits,
): PreprocessJob[] {
  let points = 0;
  let pixels = 0;
  const jobs = instances.map((instance, i): PreprocessJob => {
    if (instance.pixels) return { kind: 'pixels', pixels: instance.pixels };
    if (instance.image !== undefined) {
      let png: Buffer;
      try {
        png = decodeBase64(instance.image);
      } catch (error) {
        throw new InvalidInputError(`${prefix(isMany, i)}${(error as Error).message}`);
      }
      const size = pngDimensions(png);
      if (size) pixels += size.width * size.height;
      if (pixels > limits.maxImagePixels) {
        throw new TooLargeError(
          `${prefix(isMany, i)}image: ${pixels} decoded pixels in this request so far, at most ${limits.maxImagePixels} (maxImagePixels)`,
        );
      }
      return { kind: 'png', png, maxPixels: limits.maxImagePixels };
    }
    const strokes = instance.strokes ?? [];
    for (const stroke of strokes) points += stroke.length;
    if (points > limits.maxPointsPerRequest) {
      throw new TooLargeError(
        `${prefix(isMany, i)}strokes: ${points} points in this request so far, at most ${limits.maxPointsPerRequest} (maxPointsPerRequest)`,
      );
    }
    return { kind: 'strokes', strokes, width: instance.width!, height: instance.height! };
  });
  return jobs;
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

const errors = {
  400: jsonSchema(V2ErrorSchema),
  413: jsonSchema(V2ErrorSchema),
  503: jsonSchema(V2ErrorSchema),
};

/** `POST /v1/predict`: pixels, a PNG or strokes (or `instances` of them), preprocessed MNIST-style. */
export async function predictRoutes(
  app: FastifyInstance,
  { predictor, maxInstances, limits }: PredictOptions,
): Promise<void> {
  const schemas = predictSchemas(limits);
  const many = z.object({ instances: z.array(schemas.instance).min(1).max(maxInstances) });
  const variants = schemas.instanceVariants.map(jsonSchema);
  app.post(
    '/v1/predict',
    {
      schema: {
        tags: ['Prediction'],
        summary: 'Classify handwritten digits',
        description: `One instance, or up to ${maxInstances} under "instances".`,
        body: {
          oneOf: [
            ...variants,
            {
              type: 'object',
              required: ['instances'],
              additionalProperties: false,
              properties: {
                instances: { type: 'array', minItems: 1, maxItems: maxInstances, items: { oneOf: variants } },
              },
            },
          ],
        },
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
      const instances = isMany ? parseInput(many, body).instances : [parseInput(schemas.instance, body)];
      const jobs = preprocessJobs(instances, isMany, limits);
      let images: Float32Array;
      try {
        images = await predictor.preprocess(jobs);
      } catch (error) {
        if (error instanceof JobInputError)
          throw new InvalidInputError(`${prefix(isMany, error.index)}${error.message}`);
        throw error;
      }
      const probabilities = await predictor.predict(images, instances.length);
      const perRow = probabilities.length / instances.length;
      const predictions = instances.map((_, i) =>
        toPrediction(
          probabilities.subarray(i * perRow, (i + 1) * perRow),
          images.subarray(i * PIXELS, (i + 1) * PIXELS),
        ),
      );
      const latencyMs = Math.round((performance.now() - started) * 100) / 100;
      const model = predictor.model;
      return isMany ? { predictions, model, latencyMs } : { ...predictions[0]!, model, latencyMs };
    },
  );
}
