import type { FastifyInstance, FastifyRequest } from 'fastify';
import { jsonDepthError } from '../json-depth.ts';
import { clientError } from './client-errors.ts';

/**
 * JSON request bodies as fastify parses them (prototype poisoning refused, an empty or invalid
 * body a 400), except that a body nesting deeper than `maxJsonDepth` is a 400 naming the field
 * before `JSON.parse` spends the event loop on it (src/runtime/json-depth.ts).
 */
export function installJsonBodyParser(app: FastifyInstance, maxJsonDepth: number): void {
  const parse = jsonBodyParser(app, maxJsonDepth);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) =>
    parse(request, body.toString(), done),
  );
}

/** The parser itself, for a route scope that reads some bodies its own way first (V2 infer). */
export function jsonBodyParser(app: FastifyInstance, maxJsonDepth: number) {
  const parse = app.getDefaultJsonParser('error', 'error');
  return (request: FastifyRequest, text: string, done: (error: Error | null, body?: unknown) => void) => {
    const tooDeep = jsonDepthError(text, maxJsonDepth);
    if (tooDeep) return done(clientError(400, tooDeep), undefined);
    parse(request, text, done);
  };
}
