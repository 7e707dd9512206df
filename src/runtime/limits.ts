import type { DrawingLimits } from '../api/predict.ts';

/**
 * Bounds on what one request may ask the preprocessing to do, so that its cost is bounded before
 * any of it runs. Each is a runtime setting (flag, `KINFER_*`, YAML key) with a documented
 * default, defined in src/api/runtime-limits.ts so that the ModelDeployment's `spec.server.limits`
 * is derived from the same definitions.
 */
export { largestPreprocessCost, limitsConfigShape } from '../api/runtime-limits.ts';

export interface RequestLimits extends DrawingLimits {
  maxPointsPerRequest: number;
  maxImagePixels: number;
}
