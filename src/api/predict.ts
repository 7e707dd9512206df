import { z } from 'zod';

/** `POST /v1/predict`: one digit as pixels, a PNG or canvas strokes, or a list of them. */

export const PointSchema = z.object({ x: z.number(), y: z.number() });

export const PredictInstanceSchema = z
  .object({
    pixels: z
      .array(z.number().min(0).max(255))
      .length(784)
      .optional()
      .describe('28x28 row-major, 0..255 or 0..1, either polarity'),
    image: z
      .string()
      .min(1)
      .optional()
      .describe('base64 PNG of any size and colour type (a data: URL prefix is accepted)'),
    strokes: z
      .array(z.array(PointSchema))
      .optional()
      .describe('polylines in canvas coordinates (y down); needs width and height'),
    width: z.number().positive().optional().describe('canvas width of the strokes'),
    height: z.number().positive().optional().describe('canvas height of the strokes'),
  })
  .superRefine((value, ctx) => {
    const given = (['pixels', 'image', 'strokes'] as const).filter((k) => value[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `exactly one of pixels, image or strokes is required${given.length ? ` (got ${given.join(', ')})` : ''}`,
      });
    }
    if (value.strokes !== undefined) {
      for (const key of ['width', 'height'] as const) {
        if (value[key] === undefined)
          ctx.addIssue({ code: 'custom', path: [key], message: 'required with strokes' });
      }
    }
  });

export const PredictRequestSchema = z.union([
  z.object({ instances: z.array(PredictInstanceSchema).min(1) }).strict(),
  PredictInstanceSchema,
]);

export const ModelRefSchema = z.object({ name: z.string(), sha256: z.string() });

export const PredictionSchema = z.object({
  prediction: z.number().int().min(0).max(9),
  confidence: z.number(),
  probabilities: z.array(z.number()).length(10),
  /** Present (true) when the image had no ink at all: the model still answers, but means nothing. */
  blank: z
    .literal(true)
    .optional()
    .describe('true when the image holds no ink; the prediction is then meaningless'),
});

export const PredictResponseSchema = PredictionSchema.extend({
  model: ModelRefSchema,
  latencyMs: z.number(),
});

export const PredictManyResponseSchema = z.object({
  predictions: z.array(PredictionSchema),
  model: ModelRefSchema,
  latencyMs: z.number(),
});

export type PredictInstance = z.infer<typeof PredictInstanceSchema>;
export type PredictRequest = z.infer<typeof PredictRequestSchema>;
export type Prediction = z.infer<typeof PredictionSchema>;
export type PredictResponse = z.infer<typeof PredictResponseSchema>;
export type PredictManyResponse = z.infer<typeof PredictManyResponseSchema>;
