import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { RequestRecord } from '../kube/client.ts';

/** The operator's Prometheus metrics, on their own registry (served on /metrics). */
export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: 'kinfer_operator_reconcile_total',
    help: 'Reconciles by kind and outcome (success, error, requeue).',
    labelNames: ['kind', 'outcome'],
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'kinfer_operator_reconcile_duration_seconds',
    help: 'Time one reconcile took, by kind.',
    labelNames: ['kind'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly queueWait = new Histogram({
    name: 'kinfer_operator_queue_wait_seconds',
    help: 'Time a key waited in the work queue before a worker took it, by kind.',
    labelNames: ['kind'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'kinfer_operator_queue_depth',
    help: 'Keys waiting in the work queue, by kind.',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly apiRequests = new Counter({
    name: 'kinfer_operator_api_requests_total',
    help: 'Requests the operator sent to the Kubernetes API, by verb, resource and HTTP code (0: no response).',
    labelNames: ['verb', 'resource', 'code'],
    registers: [this.registry],
  });
  readonly watchRestarts = new Counter({
    name: 'kinfer_operator_watch_restarts_total',
    help: 'Watches restarted, by resource and reason (closed, error, gone, watchdog, empty).',
    labelNames: ['resource', 'reason'],
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'kinfer_operator_leader',
    help: '1 while this replica holds the leader lease (or runs without leader election).',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'kinfer_operator_' });
  }

  recordRequest = (record: RequestRecord): void => {
    this.apiRequests.inc({ verb: record.verb, resource: record.resource, code: String(record.code) });
  };

  /** API requests that change state (everything but GET, LIST and WATCH), optionally excluding some resources. */
  async writeCount(exclude: readonly string[] = []): Promise<number> {
    const { values } = await this.apiRequests.get();
    return values
      .filter(({ labels }) => !['GET', 'LIST', 'WATCH'].includes(String(labels.verb)))
      .filter(({ labels }) => !exclude.includes(String(labels.resource)))
      .reduce((sum, { value }) => sum + value, 0);
  }
}
