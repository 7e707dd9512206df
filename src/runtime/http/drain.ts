import type { Server } from 'node:http';

/**
 * Counts HTTP requests from their headers until their response is sent or aborted: the one count
 * that shutdown waits on and the in-flight gauge reports (metrics.ts). Node's response 'close'
 * fires once whatever happens (answered, or the client hung up at any point, fastify's
 * onRequestAbort misses a hang-up after the body was read), and no fastify hook runs per request.
 */
export function countInFlight(server: Server): () => number {
  let count = 0;
  // One listener for every response ('close' fires once each), not a closure per request.
  const closed = () => {
    count--;
  };
  // Before the app's own listener, which may answer (a scrape reading this count included) within it.
  server.prependListener('request', (_request, response) => {
    count++;
    response.on('close', closed);
  });
  return () => count;
}

/**
 * Ends the connections that would hold `server.close()` open long after the last answer: a socket
 * that never sent a request (Chromium preconnects one) counts as busy to Node until its headers
 * timeout (60 s), and a stalled upload until the request timeout. Once the server has stopped
 * listening and nothing is in flight, every connection goes; after `timeoutMs` everything goes,
 * answered or not. Returns a function that stops watching.
 */
export function cutConnectionsWhenDrained(
  server: Server,
  inFlight: () => number,
  timeoutMs: number,
  intervalMs = 25,
): () => void {
  const deadline = performance.now() + timeoutMs;
  const tick = () => {
    if ((!server.listening && inFlight() === 0) || performance.now() >= deadline) {
      server.closeAllConnections();
    }
  };
  const timer = setInterval(tick, intervalMs);
  return () => clearInterval(timer);
}
