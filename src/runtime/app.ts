import { readFileSync } from 'node:fs';
import cors from '@fastify/cors';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from 'fastify';
import { createLogger } from '../log.ts';
import { demoPagePlugin } from '../web/serve.ts';
import type { RuntimeConfig } from './config.ts';
import { httpStatus, OverloadedError, RuntimeError } from './errors.ts';
import { installAuth } from './http/auth.ts';
import { clientErrorHandler, frameworkErrorHandler, servedMethods } from './http/client-errors.ts';
import { ConnectionBudget, installConnectionLimit } from './http/connection-limit.ts';
import { decodeContentEncoding } from './http/content-encoding.ts';
import { countInFlight } from './http/drain.ts';
import { healthRoutes } from './http/health.ts';
import type { CompressedFormat } from './http/inflate.ts';
import { installJsonBodyParser } from './http/json-body.ts';
import { installMetrics, type RuntimeMetrics } from './http/metrics.ts';
import { installOpenApi } from './http/openapi.ts';
import { pathOf } from './http/path.ts';
import { predictRoutes } from './http/predict.ts';
import { serverTimeoutOptions } from './http/timeouts.ts';
import { v2Routes } from './http/v2.ts';
import type { ServingPredictor } from './inference/predictor.ts';
import { runtimeWs } from './ws/index.ts';

export interface AppDeps {
  config: RuntimeConfig;
  predictor: ServingPredictor;
  /** The bearer token every route but health requires; no auth when undefined. */
  authToken?: string | undefined;
}

/** Shutdown state shared by readiness and the server: once draining, /readyz answers 503. */
export interface Lifecycle {
  draining: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    predictor: ServingPredictor;
    runtimeConfig: RuntimeConfig;
    metrics: RuntimeMetrics;
    lifecycle: Lifecycle;
    /** HTTP requests received and not yet answered or aborted (the gauge and shutdown read it). */
    requestsInFlight: () => number;
  }
}

const version = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/**
 * Builds the runtime's fastify app without listening: tests `inject` or listen on port 0, the
 * server file listens and handles signals. Validation is zod's (in the handlers, errors naming the
 * field); the JSON schemas on routes only feed the OpenAPI document at /docs.
 */
export async function buildApp({ config, predictor, authToken }: AppDeps): Promise<FastifyInstance> {
  const log = createLogger('runtime.http');
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // One log line per request would cost more than the inference; errors are logged below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimit,
    // While draining, a request that still arrives on an open keep-alive connection is answered
    // (on a connection that then closes, see onSend below), not refused with 503: behind a Service
    // a client's pooled connection keeps reaching a terminating pod after its endpoint is gone,
    // and a 503 there was a failed request during every rollout on a real node.
    return503OnClosing: false,
    ...serverTimeoutOptions(config),
    clientErrorHandler: clientErrorHandler(config),
    frameworkErrors: frameworkErrorHandler,
  });
  // Every part valid as it is (true: no result object per part and request).
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  app.decorate('predictor', predictor);
  app.decorate('runtimeConfig', config);
  app.decorate('lifecycle', { draining: false });
  app.decorate('requestsInFlight', countInFlight(app.server));

  app.setErrorHandler((error: FastifyError | RuntimeError, request, reply) => {
    if (error instanceof RuntimeError) {
      const status = httpStatus(error.code);
      if (error instanceof OverloadedError) reply.header('retry-after', String(error.retryAfterSeconds));
      if (error.code === 'unauthorized') reply.header('www-authenticate', 'Bearer');
      if (status >= 500 && error.code === 'inference_failed') {
        request.log.error(
          { event: 'request.failed', code: error.code, route: request.routeOptions.url },
          'inference failed',
        );
      }
      return reply.code(status).send({ error: error.message });
    }
    const status = (error as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      // fastify's own client errors (bad JSON, body over the limit, unsupported media type).
      const message =
        (error as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? `body: too large, over ${config.bodyLimit} bytes (bodyLimit; a compressed body counts decompressed)`
          : error.message;
      return reply.code(status).send({ error: message });
    }
    // The route template, not the URL: a query string may carry a token.
    request.log.error(
      { event: 'request.failed', err: error, route: request.routeOptions.url },
      'unexpected error',
    );
    return reply.code(500).send({ error: 'internal server error' });
  });
  // A path that exists under other methods is a 405 naming them (CORS preflights aside).
  app.setNotFoundHandler((request, reply) => {
    const path = pathOf(request.url);
    const allowed = servedMethods.filter((method) => app.findRoute({ method, url: path }) !== null);
    if (allowed.length > 0 && request.method !== 'OPTIONS') {
      return reply
        .code(405)
        .header('allow', allowed.join(', '))
        .send({
          error: `method: ${request.method} is not allowed on ${path} (allowed: ${allowed.join(', ')})`,
        });
    }
    return reply.code(404).send({ error: `no route for ${request.method} ${path}` });
  });

  const inflateOptions = {
    bodyLimit: config.bodyLimit,
    offLoop: (compressed: Buffer, format: CompressedFormat, maxBytes: number) =>
      predictor.inflate(compressed, format, maxBytes),
  };
  // Hooks with `done` rather than async ones on every request: no promise per hook and request.
  app.addHook('preParsing', (request, reply, payload, done) => {
    const encoding = request.headers['content-encoding'];
    if (encoding === undefined) return done(null, payload);
    try {
      done(null, decodeContentEncoding(encoding, payload, reply.raw, inflateOptions));
    } catch (error) {
      done(error as Error);
    }
  });
  const offLoopJson = (bytes: Buffer, v2: boolean) => predictor.parseJson(bytes, v2, config.maxJsonDepth);
  installJsonBodyParser(app, config.maxJsonDepth, offLoopJson);

  // Draining: answers still go out, but on connections that then close, so keep-alive clients
  // do not hold the server open (fastify closes only the connections idle when close began).
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (app.lifecycle.draining) reply.header('connection', 'close');
    if (config.podName) reply.header('kinfer-pod', config.podName);
    done(null, payload);
  });

  // One budget per replica for HTTP and /ws together; checked before auth so a full replica
  // answers 503 at once.
  const connectionBudget = new ConnectionBudget(config.maxConnections);
  installConnectionLimit(app, connectionBudget);
  if (authToken) installAuth(app, authToken);
  if (config.corsOrigins.length > 0) {
    await app.register(cors, { origin: config.corsOrigins.includes('*') ? true : config.corsOrigins });
  }
  await installOpenApi(app, { version, auth: authToken !== undefined && authToken !== '' });

  app.decorate('metrics', installMetrics(app, predictor, app.requestsInFlight));
  await app.register(healthRoutes, { predictor, draining: () => app.lifecycle.draining });
  await app.register(v2Routes, {
    predictor,
    maxJsonDepth: config.maxJsonDepth,
    offLoopJson,
    offLoopBinaryHeader: (bytes: Buffer, headerLength: number) =>
      predictor.parseBinaryHeader(bytes, headerLength, config.maxJsonDepth),
    maxBatch: config.maxV2Batch,
    serverVersion: version,
    batching: config,
  });
  await app.register(predictRoutes, { predictor, maxInstances: config.maxV2Batch, limits: config });
  await app.register(runtimeWs, { config, predictor, authToken, connectionBudget });
  await app.register(demoPagePlugin);
  return app;
}
