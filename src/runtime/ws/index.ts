import type { FastifyInstance } from 'fastify';
import type { RuntimeConfig } from '../config.ts';
import type { ConnectionBudget } from '../http/connection-limit.ts';
import type { Predictor } from '../inference/predictor.ts';
import { fromPixels, fromPng, fromStrokes } from '../preprocess/index.ts';
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
    predictor: Predictor;
    authToken?: string | undefined;
    connectionBudget?: ConnectionBudget | undefined;
  },
): Promise<void> {
  await wsPlugin(app, {
    predictor,
    preprocess: { fromPixels, fromPng, fromStrokes },
    settings: wsSettingsFromConfig(config),
    authTokens: authToken ? [authToken] : [],
    registry: app.hasDecorator('metrics') ? app.metrics.registry : undefined,
    connectionBudget,
  });
}
// Like fastify-plugin: `app.kinferWs` is visible on the app itself.
(runtimeWs as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
