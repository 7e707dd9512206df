/**
 * The kinfer client for Node: REST and drawing sessions. The `ws` package is the default
 * WebSocket implementation here (it also runs on Node versions without a global WebSocket,
 * before 22); browsers import `./drawing.ts` directly.
 */
import WebSocket from 'ws';
import { DrawingClient, type DrawingClientOptions, type WebSocketConstructor } from './drawing.ts';

export { type BackoffOptions, backoffDelay, defaultBackoff } from '../shared/backoff.ts';
export {
  type ConnectionState,
  DrawingClient,
  type DrawingClientEvents,
  type DrawingClientOptions,
  type WebSocketConstructor,
  type WebSocketLike,
  wsUrl,
} from './drawing.ts';
export { ClientError, ConnectionClosedError, HttpError, RequestTimeoutError, ServerError } from './errors.ts';
export {
  type ModelMetadata,
  type PredictInput,
  type PredictManyResult,
  type PredictResult,
  RestClient,
  type RestClientOptions,
} from './rest.ts';

/** A drawing session using the global WebSocket when there is one, else the `ws` package. */
export function drawingClient(options: DrawingClientOptions): DrawingClient {
  const fallback = WebSocket as unknown as WebSocketConstructor;
  return new DrawingClient({
    ...options,
    WebSocket:
      options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? fallback,
  });
}
