import { z } from 'zod';

/**
 * Time limits for slow clients, so that a socket that stalls (headers never finished, a body that
 * trickles or stops) frees its connection slot instead of holding it for ever. Node checks the
 * headers and request timeouts every `connectionsCheckingInterval`, 30 s by default: far too
 * coarse for these, so it is derived from the headers timeout. The headers default is Node's own:
 * the clock runs from the connection, and a replica starved of CPU (1,000 connections at once on a
 * loaded machine) can take tens of seconds to read a request it has accepted, which must not be
 * mistaken for a slow client. The keep-alive default is
 * fastify's: longer than clients' and proxies' own idle timeouts, so that a client never reuses a
 * connection the server is closing at that moment (ECONNRESET).
 */
export const timeoutsConfigShape = {
  headersTimeoutMs: z.coerce
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(60_000)
    .describe('longest time from connecting to the end of a request’s headers; over it: 408 and close'),
  requestTimeoutMs: z.coerce
    .number()
    .int()
    .min(100)
    .max(3_600_000)
    .default(120_000)
    .describe('longest time to receive a whole request, headers and body; over it: 408 and close'),
  keepAliveTimeoutMs: z.coerce
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(72_000)
    .describe('an idle keep-alive connection is closed after this long (it frees its connection slot)'),
};

export interface Timeouts {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

/** The fastify (and, through `http`, Node server) options that apply `timeouts`. */
export function serverTimeoutOptions(timeouts: Timeouts) {
  return {
    requestTimeout: timeouts.requestTimeoutMs,
    keepAliveTimeout: timeouts.keepAliveTimeoutMs,
    http: {
      headersTimeout: timeouts.headersTimeoutMs,
      requestTimeout: timeouts.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(timeouts.headersTimeoutMs / 4))),
    },
  };
}
