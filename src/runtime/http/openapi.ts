import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { V2ErrorSchema } from '../../api/v2.ts';
import { publicPaths } from './auth.ts';
import { unlimitedPaths } from './connection-limit.ts';
import { jsonSchema } from './zod.ts';

/** An `{"error"}` response with its description, for a route's `schema.response`. */
export const errorResponse = (description: string) => ({ description, ...jsonSchema(V2ErrorSchema) });

/**
 * The errors a route can answer before or besides its handler, so that the OpenAPI document states
 * every status code the server really sends: 401 without the token (when one is required), 503
 * over the connection budget, 400/413/415 for a body, 404/414 for path parameters.
 */
export function sharedErrors(route: Pick<RouteOptions, 'url' | 'method'>, auth: boolean) {
  const errors: Record<number, ReturnType<typeof errorResponse>> = {};
  const methods = [route.method].flat();
  if (auth && !publicPaths.has(route.url)) errors[401] = errorResponse('missing or invalid bearer token');
  if (!unlimitedPaths.has(route.url)) {
    errors[503] = errorResponse('too many connections, the model not ready, or the queue full; retry later');
  }
  if (methods.includes('POST')) {
    errors[400] = errorResponse('the body or a field is wrong; the message names it');
    errors[413] = errorResponse(
      'the body, decompressed, or what it asks for is over a limit; the message names it',
    );
    errors[415] = errorResponse('unsupported Content-Type or Content-Encoding');
  }
  if (route.url.includes(':')) {
    errors[404] = errorResponse('no such model or version');
    errors[414] = errorResponse('a path parameter is too long');
  }
  return errors;
}

/**
 * The OpenAPI document at `/docs/json` (and its UI at `/docs`), generated from the routes' schemas
 * with the shared errors added and the bearer requirement lifted from the public routes. Register
 * before any route.
 */
export async function installOpenApi(
  app: FastifyInstance,
  { version, auth }: { version: string; auth: boolean },
): Promise<void> {
  app.addHook('onRoute', (route) => {
    const schema = route.schema as Record<string, unknown> | undefined;
    if (!schema || schema.hide) return;
    const own = (schema.response ?? {}) as Record<string, unknown>;
    schema.response = { ...sharedErrors(route, auth), ...own };
    if (auth && publicPaths.has(route.url)) schema.security = [];
  });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'kinfer runtime',
        version,
        description: 'MNIST digit classifier: KServe V2 and /v1/predict.',
      },
      ...(auth
        ? {
            components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
            security: [{ bearer: [] }],
          }
        : {}),
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}
