import { z } from 'zod';
import { defaultDrawingLimits } from './predict.ts';

/**
 * The predictor runtime's request limits and timeouts, defined once for both sides: the runtime
 * reads them as settings (flag, `KINFER_*` environment variable, YAML key: src/runtime/config.ts)
 * and the ModelDeployment exposes them as `spec.server.limits` and `spec.server.timeouts`, with
 * the bounds, defaults and descriptions derived from these schemas (src/api/server-limits.ts).
 * A limit added here reaches the runtime and the CRD alike. Values coerce, since flags and
 * environment variables arrive as strings.
 */
/** An integer setting between `min` and `max`, coerced from a flag's or variable's string. */
export const intSetting = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * Work units of the preprocessing queue, roughly decoded PNG pixels' worth of time (one unit is
 * about half a microsecond on the 2-core development machine): a rasterised segment costs at most
 * its length times the pen's width of the ~80x80 raster, about 250 pixels' decoding.
 */
export const SEGMENT_COST = 256;
/** Work units of normalising an image into 28x28 (cropping, resampling, centring, blur). */
export const NORMALISE_COST = 2048;
/**
 * Bytes of a JSON request body parsed per work unit (large bodies are parsed on the preprocessing
 * threads): a 15 MB V2 body of 800k numbers takes ~100 ms to parse, some 200,000 units.
 */
export const JSON_BYTES_PER_UNIT = 64;

/** Bounds on what one request may ask of a replica, so that its cost is bounded before any of it runs. */
export const limitsConfigShape = {
  maxPointsPerStroke: intSetting(1, 1_000_000)
    .default(defaultDrawingLimits.maxPointsPerStroke)
    .describe(`points in one stroke at most (default ${defaultDrawingLimits.maxPointsPerStroke})`),
  maxStrokes: intSetting(1, 1_000_000)
    .default(defaultDrawingLimits.maxStrokes)
    .describe(`strokes in one drawing at most (default ${defaultDrawingLimits.maxStrokes})`),
  maxPointsPerRequest: intSetting(1, 100_000_000)
    .default(16_384)
    .describe('points in one /v1/predict request at most, all instances together (default 16384)'),
  maxCoordinate: z.coerce
    .number()
    .min(1)
    .max(1e9)
    .default(defaultDrawingLimits.maxCoordinate)
    .describe(`largest |x| or |y| of a stroke point (default ${defaultDrawingLimits.maxCoordinate})`),
  maxCanvasSize: intSetting(28, 1_000_000)
    .default(defaultDrawingLimits.maxCanvasSize)
    .describe(`largest canvas width or height of strokes (default ${defaultDrawingLimits.maxCanvasSize})`),
  maxJsonDepth: intSetting(8, 100_000)
    .default(64)
    .describe(
      'arrays and objects nested in one JSON body or /ws message at most, refused before parsing (default 64)',
    ),
  maxImagePixels: intSetting(784, 1_000_000_000)
    .default(4096 * 4096)
    .describe('decoded PNG pixels in one request at most, all images together (default 16777216, 4096x4096)'),
  maxV2Batch: intSetting(1, 65536).default(1024).describe('most images in one V2 or /v1/predict request'),
  bodyLimit: intSetting(1024, 1024 * 1024 * 1024)
    .default(32 * 1024 * 1024)
    .describe('largest request body in bytes (a compressed body counts decompressed)'),
  queueLimit: intSetting(1, 1_000_000).default(8192).describe('queued images beyond which requests get 503'),
  preprocessQueueLimit: intSetting(1, 1_000_000_000_000)
    .default(32 * 1024 * 1024)
    .describe(
      `preprocessing work queued or running beyond which requests get 503, in decoded PNG pixels (a stroke point counts ${SEGMENT_COST}, an image ${NORMALISE_COST} more, a JSON body parsed off the event loop one per ${JSON_BYTES_PER_UNIT} bytes)`,
    ),
};

/**
 * Time limits for slow clients, so that a socket that stalls (headers never finished, a body that
 * trickles or stops) frees its connection slot instead of holding it for ever. The headers default
 * is Node's own: the clock runs from the connection, and a replica starved of CPU (1,000
 * connections at once on a loaded machine) can take tens of seconds to read a request it has
 * accepted, which must not be mistaken for a slow client. The keep-alive default is fastify's:
 * longer than clients' and proxies' own idle timeouts, so that a client never reuses a connection
 * the server is closing at that moment (ECONNRESET).
 */
export const timeoutsConfigShape = {
  headersTimeoutMs: intSetting(100, 600_000)
    .default(60_000)
    .describe('longest time from connecting to the end of a request’s headers; over it: 408 and close'),
  requestTimeoutMs: intSetting(100, 3_600_000)
    .default(120_000)
    .describe('longest time to receive a whole request, headers and body; over it: 408 and close'),
  keepAliveTimeoutMs: intSetting(100, 600_000)
    .default(72_000)
    .describe('an idle keep-alive connection is closed after this long (it frees its connection slot)'),
};

type Values<S extends Record<string, z.ZodType>> = { [K in keyof S]: z.output<S[K]> };
export type LimitSettings = Values<typeof limitsConfigShape>;
export type TimeoutSettings = Values<typeof timeoutsConfigShape>;

/** The terms of the preprocessing cost of the largest request the limits allow: setting × weight. */
export const largestRequestCostTerms = [
  { key: 'maxImagePixels', weight: 1 },
  { key: 'maxPointsPerRequest', weight: SEGMENT_COST },
  { key: 'maxV2Batch', weight: NORMALISE_COST },
] as const satisfies readonly { key: keyof LimitSettings; weight: number }[];

/** Preprocessing cost (queue work units) of the largest request the limits allow. */
export function largestPreprocessCost(
  limits: Pick<LimitSettings, (typeof largestRequestCostTerms)[number]['key']>,
): number {
  return largestRequestCostTerms.reduce((sum, { key, weight }) => sum + limits[key] * weight, 0);
}
