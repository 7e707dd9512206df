import { z } from 'zod';
import { type DrawingLimits, defaultDrawingLimits } from '../api/predict.ts';
import { NORMALISE_COST, SEGMENT_COST } from './preprocess/jobs.ts';

/**
 * Bounds on what one request may ask the preprocessing to do, so that its cost is bounded before
 * any of it runs. Each is a runtime setting (flag, `KINFER_*`, YAML key) with a documented default.
 */
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const limitsConfigShape = {
  maxPointsPerStroke: int(1, 1_000_000)
    .default(defaultDrawingLimits.maxPointsPerStroke)
    .describe(`points in one stroke at most (default ${defaultDrawingLimits.maxPointsPerStroke})`),
  maxStrokes: int(1, 1_000_000)
    .default(defaultDrawingLimits.maxStrokes)
    .describe(`strokes in one drawing at most (default ${defaultDrawingLimits.maxStrokes})`),
  maxPointsPerRequest: int(1, 100_000_000)
    .default(16_384)
    .describe('points in one /v1/predict request at most, all instances together (default 16384)'),
  maxCoordinate: z.coerce
    .number()
    .min(1)
    .max(1e9)
    .default(defaultDrawingLimits.maxCoordinate)
    .describe(`largest |x| or |y| of a stroke point (default ${defaultDrawingLimits.maxCoordinate})`),
  maxCanvasSize: int(28, 1_000_000)
    .default(defaultDrawingLimits.maxCanvasSize)
    .describe(`largest canvas width or height of strokes (default ${defaultDrawingLimits.maxCanvasSize})`),
  maxJsonDepth: int(8, 100_000)
    .default(64)
    .describe(
      'arrays and objects nested in one JSON body or /ws message at most, refused before parsing (default 64)',
    ),
  maxImagePixels: int(784, 1_000_000_000)
    .default(4096 * 4096)
    .describe('decoded PNG pixels in one request at most, all images together (default 16777216, 4096x4096)'),
};

export interface RequestLimits extends DrawingLimits {
  maxPointsPerRequest: number;
  maxImagePixels: number;
}

/** Preprocessing cost (jobCost units) of the largest request the limits allow. */
export function largestPreprocessCost(limits: RequestLimits & { maxV2Batch: number }): number {
  return (
    limits.maxImagePixels + limits.maxPointsPerRequest * SEGMENT_COST + limits.maxV2Batch * NORMALISE_COST
  );
}
