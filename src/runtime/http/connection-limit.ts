import type { FastifyInstance } from 'fastify';
import { pathOf } from './path.ts';

/** What the budget needs of a socket: to know when it goes. */
export interface BudgetSocket {
  readonly destroyed: boolean;
  once(event: 'close', listener: () => void): unknown;
}

/**
 * One replica's connection budget (`maxConnections`), shared by HTTP and `/ws`: a socket takes a
 * slot the first time it carries a request that counts (a non-probe HTTP request, or a `/ws`
 * upgrade) and gives it back when it closes. A socket already holding a slot keeps it, so a
 * keep-alive connection that upgrades to a WebSocket is counted once.
 */
export class ConnectionBudget {
  readonly #admitted = new Set<BudgetSocket>();

  constructor(readonly max: number) {}

  /** Sockets holding a slot now. */
  get open(): number {
    return this.#admitted.size;
  }

  /** True when `socket` holds a slot (now or already); false when the budget is spent. */
  admit(socket: BudgetSocket): boolean {
    if (this.#admitted.has(socket)) return true;
    if (socket.destroyed || this.#admitted.size >= this.max) return false;
    this.#admitted.add(socket);
    socket.once('close', () => this.#admitted.delete(socket));
    return true;
  }
}

/**
 * Probes and scrapes never take a slot and are never refused: a replica busy with `maxConnections`
 * clients must still pass its kubelet liveness and readiness probes and report its metrics.
 */
export const unlimitedPaths = new Set([
  '/healthz',
  '/readyz',
  '/v2/health/live',
  '/v2/health/ready',
  '/metrics',
]);

/**
 * HTTP side of the budget: a request on a connection that finds no slot is answered 503
 * `{"error": …}` with `Retry-After` and `Connection: close` (so the client gets a reason and
 * reconnects later rather than a silent TCP drop); probe paths are served regardless.
 */
export function installConnectionLimit(app: FastifyInstance, budget: ConnectionBudget): void {
  app.addHook('onRequest', (request, reply, done) => {
    if (unlimitedPaths.has(pathOf(request.url)) || budget.admit(request.raw.socket)) return done();
    request.log.debug({ event: 'http.refused_overloaded', remote: request.ip }, 'too many connections');
    reply
      .code(503)
      .header('retry-after', '1')
      .header('connection', 'close')
      .send({
        error: `too many connections: this replica serves at most ${budget.max} HTTP and WebSocket connections together, retry later`,
      });
  });
}
