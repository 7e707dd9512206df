/**
 * Time limits for slow clients (defined in src/api/runtime-limits.ts, shared with the
 * ModelDeployment's `spec.server.timeouts`). Node checks the headers and request timeouts every
 * `connectionsCheckingInterval`, 30 s by default: far too coarse for these, so it is derived from
 * the headers timeout below.
 */
export { timeoutsConfigShape } from '../../api/runtime-limits.ts';

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
