import type { FastifyInstance } from 'fastify';
import type { RuntimeConfig } from '../config.ts';
import type { ConnectionBudget } from '../http/connection-limit.ts';
import type { ServingPredictor } from '../inference/predictor.ts';
import type { PreprocessJob } from '../preprocess/jobs.ts';
import { wsPlugin } from './plugin.ts';
import { wsSettingsFromConfig } from './settings.ts';

export { type WsPluginOptions, type WsStats, wsPlugin } from './plugin.ts';

/**
 * `/ws` wired to the runtime: the shared predictor (same batcher as REST), the runtime's
 * preprocessing, its settings and its bearer token. `buildApp` registers this.
 */
export async function runtimeWs(
  app: FastifyInstance,
  {
    config,
    predictor,
    authToken,
    connectionBudget,
  }: {
    config: RuntimeConfig;
    predictor: ServingPredictor;
    authToken?: string | undefined;
    connectionBudget?: ConnectionBudget | undefined;
  },
): Promise<void> {
  const one = (job: PreprocessJob) => predictor.preprocess([job]);
  await wsPlugin(app, {
    predictor,
    // On the preprocessing threads, never on the event loop, counted against their queue.
    preprocess: {
      fromPixels: (pixels) => one({ kind: 'pixels', pixels }),
      fromPng: (png) => one({ kind: 'png', png, maxPixels: config.maxImagePixels }),
      fromStrokes: (strokes, width, height) => one({ kind: 'strokes', strokes, width, height }),
    },
    settings: wsSettingsFromConfig(config),
    authTokens: authToken ? [authToken] : [],
    registry: app.hasDecorator('metrics') ? app.metrics.registry : undefined,
    connectionBudget,
  });
}
// Like fastify-plugin: `app.kinferWs` is visible on the app itself.
(runtimeWs as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
