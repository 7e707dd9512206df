import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { UnauthorizedError } from '../errors.ts';

/**
 * Probes must work without credentials (kubelet has none); the demo page at `/` holds no data and
 * a browser cannot send a header on navigation: its WebSocket authenticates (src/runtime/ws/auth.ts).
 */
export const publicPaths = new Set(['/', '/healthz', '/readyz', '/v2/health/live', '/v2/health/ready']);

/** `Authorization: Bearer <token>` on every route except the health probes. */
export function installAuth(app: FastifyInstance, token: string): void {
  const expected = sha256(token);
  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?', 1)[0]!;
    // CORS preflights never carry credentials (browsers strip them); they reveal nothing.
    if (publicPaths.has(path) || request.method === 'OPTIONS') return;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
    if (!match || !timingSafeEqual(sha256(match[1]!), expected)) throw new UnauthorizedError();
  });
}

// Hashing first makes the comparison constant-time regardless of the token's length.
const sha256 = (value: string) => createHash('sha256').update(value).digest();
