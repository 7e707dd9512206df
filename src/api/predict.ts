import { z } from 'zod';
import { Pixels } from './ws.ts';

/** `POST /v1/predict`: one digit as pixels, a PNG or canvas strokes, or a list of them. */

/**
 * Bounds on a drawing (runtime settings of the same names): each is also in the OpenAPI document,
 * and a request over one is a 400 naming the field and the setting.
 */
export interface DrawingLimits {
  /** Points in one stroke. */
  maxPointsPerStroke: number;
  /** Strokes in one drawing. */
  maxStrokes: number;
  /** |x| and |y| of a point (points outside the canvas are clipped to it). */
  maxCoordinate: number;
  /** Largest canvas `width` and `height`. */
  maxCanvasSize: number;
}

export const defaultDrawingLimits: DrawingLimits = {
  maxPointsPerStroke: 4096,
  maxStrokes: 256,
  maxCoordinate: 100_000,
  maxCanvasSize: 4096,
};

/** The `/v1/predict` schemas for the given limits (the runtime builds them from its settings). */
export function predictSchemas(limits: DrawingLimits = defaultDrawingLimits) {
  const coordinate = z
    .number()
    .min(-limits.maxCoordinate, `at least -${limits.maxCoordinate} (maxCoordinate)`)
    .max(limits.maxCoordinate, `at most ${limits.maxCoordinate} (maxCoordinate)`);
  const point = z.object({ x: coordinate, y: coordinate });
  const canvasSide = (what: string) =>
    z
      .number()
      .min(1, 'must be at least 1')
      .max(limits.maxCanvasSize, `at most ${limits.maxCanvasSize} (maxCanvasSize)`)
      .describe(`canvas ${what} of the strokes`);
  const fields = {
    pixels: z
      .array(z.number().min(0).max(255))
      .length(784)
      .describe('28x28 row-major, 0..255 or 0..1, either polarity'),
    image: z
      .string()
      .min(1)
      .describe('base64 PNG of any size and colour type (a data: URL prefix is accepted)'),
    strokes: z
      .array(
        z
          .array(point)
          .max(
            limits.maxPointsPerStroke,
            `at most ${limits.maxPointsPerStroke} points per stroke (maxPointsPerStroke)`,
          ),
      )
      .max(limits.maxStrokes, `at most ${limits.maxStrokes} strokes (maxStrokes)`)
      .describe('polylines in canvas coordinates (y down); needs width and height'),
    width: canvasSide('width'),
    height: canvasSide('height'),
  };
  const instance = z
    .object({
      pixels: Pixels.optional(),
      image: fields.image.optional(),
      strokes: strokesChecked(limits).optional(),
      width: fields.width.optional(),
      height: fields.height.optional(),
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
  /**
   * The same instance as three alternatives for the OpenAPI document (where `fields` describe
   * pixels and strokes element by element; requests are checked by the one-loop versions), which cannot say "exactly
   * one of" otherwise (zod's refinement is not representable in JSON Schema).
   */
  const instanceVariants = [
    z.object({ pixels: fields.pixels }),
    z.object({ image: fields.image }),
    z.object({ strokes: fields.strokes, width: fields.width, height: fields.height }),
  ];
  return { point, instance, instanceVariants };
}

/**
 * Strokes checked in one loop, with zod's messages and paths: zod element by element costs ~20 ms
 * for the 16,384 points a request may carry, on the event loop; this about a millisecond.
 */
function strokesChecked(limits: DrawingLimits) {
  const { maxStrokes, maxPointsPerStroke, maxCoordinate } = limits;
  return z.unknown().superRefine((value, ctx) => {
    const issue = (path: (string | number)[], message: string) =>
      ctx.addIssue({ code: 'custom', path, message });
    if (!Array.isArray(value)) return issue([], 'expected an array of strokes');
    if (value.length > maxStrokes) return issue([], `at most ${maxStrokes} strokes (maxStrokes)`);
    for (let s = 0; s < value.length; s++) {
      const stroke: unknown = value[s];
      if (!Array.isArray(stroke)) return issue([s], 'expected an array of points');
      if (stroke.length > maxPointsPerStroke) {
        return issue([s], `at most ${maxPointsPerStroke} points per stroke (maxPointsPerStroke)`);
      }
      for (let i = 0; i < stroke.length; i++) {
        const point: unknown = stroke[i];
        if (typeof point !== 'object' || point === null) return issue([s, i], 'expected a point {x, y}');
        for (const axis of ['x', 'y'] as const) {
          const v = (point as Record<string, unknown>)[axis];
          if (typeof v !== 'number' || !Number.isFinite(v))
            return issue([s, i, axis], 'expected a finite number');
          if (v < -maxCoordinate) return issue([s, i, axis], `at least -${maxCoordinate} (maxCoordinate)`);
          if (v > maxCoordinate) return issue([s, i, axis], `at most ${maxCoordinate} (maxCoordinate)`);
        }
      }
    }
  }) as unknown as z.ZodType<{ x: number; y: number }[][]>;
}

const defaults = predictSchemas();
export const PointSchema = defaults.point;
export const PredictInstanceSchema = defaults.instance;

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
