import type { FastifyInstance } from 'fastify';
import { NotReadyError } from '../errors.ts';
import type { ServingPredictor } from '../inference/predictor.ts';

/**
 * Kubernetes probes: `/healthz` answers while the process serves HTTP; `/readyz` only once the
 * model is loaded and warmed up, and no longer once shutdown has begun (so the Service stops
 * sending traffic before the pod goes).
 */
export async function healthRoutes(
  app: FastifyInstance,
  { predictor, draining }: { predictor: ServingPredictor; draining: () => boolean },
): Promise<void> {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async () => {
    if (draining()) throw new NotReadyError('shutting down');
    if (!predictor.ready) throw new NotReadyError(predictor.loadError ?? 'the model is not loaded yet');
    return { status: 'ready', model: predictor.model };
  });
}
