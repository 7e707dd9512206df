import type { FastifyInstance } from 'fastify';
import { UnauthorizedError } from '../errors.ts';
import { bearerToken, tokenAccepted } from '../ws/auth.ts';
import { pathOf } from './path.ts';

/**
 * Probes must work without credentials (kubelet has none); the demo page at `/` holds no data and
 * a browser cannot send a header on navigation: its WebSocket authenticates (src/runtime/ws/auth.ts).
 */
export const publicPaths = new Set(['/', '/healthz', '/readyz', '/v2/health/live', '/v2/health/ready']);

/** `Authorization: Bearer <token>` on every route except the health probes. */
export function installAuth(app: FastifyInstance, token: string): void {
  const accepted = [token];
  app.addHook('onRequest', (request, _reply, done) => {
    // CORS preflights never carry credentials (browsers strip them); they reveal nothing.
    if (publicPaths.has(pathOf(request.url)) || request.method === 'OPTIONS') return done();
    if (!tokenAccepted(bearerToken(request.headers.authorization), accepted))
      return done(new UnauthorizedError());
    done();
  });
}
