import type { FastifyInstance } from 'fastify';
import { NotReadyError } from '../errors.ts';
import type { ServingPredictor } from '../inference/predictor.ts';
import { errorResponse } from './openapi.ts';

/**
 * Kubernetes probes: `/healthz` answers while the process serves HTTP; `/readyz` only once the
 * model is loaded and warmed up, and no longer once shutdown has begun (so the Service stops
 * sending traffic before the pod goes).
 */
export async function healthRoutes(
  app: FastifyInstance,
  { predictor, draining }: { predictor: ServingPredictor; draining: () => boolean },
): Promise<void> {
  const tags = ['Probes'];
  app.get(
    '/healthz',
    {
      schema: {
        tags,
        summary: 'Liveness: the process serves HTTP',
        response: {
          200: { type: 'object', required: ['status'], properties: { status: { type: 'string' } } },
        },
      },
    },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/readyz',
    {
      schema: {
        tags,
        summary: 'Readiness: the model is loaded and warmed up, and the server is not shutting down',
        response: {
          200: {
            type: 'object',
            required: ['status', 'model'],
            properties: {
              status: { type: 'string' },
              model: {
                type: 'object',
                required: ['name', 'sha256'],
                properties: { name: { type: 'string' }, sha256: { type: 'string' } },
              },
            },
          },
          503: errorResponse('not ready: the model is loading or failed to load, or shutting down'),
        },
      },
    },
    async () => {
      if (draining()) throw new NotReadyError('shutting down');
      if (!predictor.ready) throw new NotReadyError(predictor.loadError ?? 'the model is not loaded yet');
      return { status: 'ready', model: predictor.model };
    },
  );
}
