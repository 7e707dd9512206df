import type { Metric, Registry } from 'prom-client';

/** One method and route: its latency histogram and how many answers of each status code. */
interface Series {
  method: string;
  route: string;
  /** Observations per bucket, not cumulative; the last one for those above every bound. */
  buckets: number[];
  sum: number;
  count: number;
  statuses: Map<number, StatusCount>;
}

interface StatusCount {
  series: Series;
  status: number;
  count: number;
}

export interface RequestMetricsOptions {
  /** The counter of requests by method, route and status, and its help text. */
  requests: { name: string; help: string };
  /** The latency histogram by method and route (seconds), its help text and upper bounds. */
  duration: { name: string; help: string; buckets: readonly number[] };
}

/**
 * HTTP request count (method, route, status) and latency (method, route), exposed through a
 * prom-client registry in exactly the text prom-client's own Counter and Histogram would write
 * (test/unit/runtime/request-metrics.test.ts compares them), but recorded with two Map lookups and
 * a few additions per request: prom-client hashes the label set on every inc and observe, checks
 * it, and builds a closure per observation, which on a one-digit infer request was some 2% of the
 * event loop.
 */
export class RequestMetrics {
  readonly #byRoute = new Map<string, Map<string, Series>>();
  /** Every series and every status count in the order first seen (prom-client's order). */
  readonly #series: Series[] = [];
  readonly #statuses: StatusCount[] = [];
  readonly #bounds: readonly number[];

  constructor(registry: Registry, options: RequestMetricsOptions) {
    this.#bounds = options.duration.buckets;
    // The registry reads a metric through its name, help, type and get() only (prom-client's
    // Metric type also lists the methods that record, which these record through observe).
    registry.registerMetric(
      this.#metric(options.requests, 'counter', () => this.#counts()) as unknown as Metric,
    );
    registry.registerMetric(
      this.#metric(options.duration, 'histogram', () =>
        this.#histogram(options.duration.name),
      ) as unknown as Metric,
    );
  }

  /** Records one answered request. */
  observe(method: string, route: string, status: number, seconds: number): void {
    let methods = this.#byRoute.get(route);
    if (methods === undefined) {
      methods = new Map();
      this.#byRoute.set(route, methods);
    }
    let series = methods.get(method);
    if (series === undefined) {
      series = {
        method,
        route,
        buckets: new Array(this.#bounds.length + 1).fill(0),
        sum: 0,
        count: 0,
        statuses: new Map(),
      };
      methods.set(method, series);
      this.#series.push(series);
    }
    const bounds = this.#bounds;
    let bucket = 0;
    while (bucket < bounds.length && seconds > bounds[bucket]!) bucket++;
    series.buckets[bucket]!++;
    series.sum += seconds;
    series.count++;
    const counted = series.statuses.get(status);
    if (counted !== undefined) counted.count++;
    else {
      const fresh = { series, status, count: 1 };
      series.statuses.set(status, fresh);
      this.#statuses.push(fresh);
    }
  }

  #metric(named: { name: string; help: string }, type: 'counter' | 'histogram', values: () => MetricValue[]) {
    const describe = () => ({ name: named.name, help: named.help, type, aggregator: 'sum' as const });
    return {
      ...describe(),
      get: async () => ({ ...describe(), values: values() }),
      reset: () => {
        this.#byRoute.clear();
        this.#series.length = 0;
        this.#statuses.length = 0;
      },
    };
  }

  #counts(): MetricValue[] {
    return this.#statuses.map(({ series: { method, route }, status, count }) => ({
      labels: { method, route, status: String(status) },
      value: count,
    }));
  }

  #histogram(name: string): MetricValue[] {
    const values: MetricValue[] = [];
    for (const { method, route, buckets, sum, count } of this.#series) {
      let cumulative = 0;
      for (const [i, bound] of this.#bounds.entries()) {
        cumulative += buckets[i]!;
        values.push({
          metricName: `${name}_bucket`,
          labels: { le: bound, method, route },
          value: cumulative,
        });
      }
      values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf', method, route }, value: count });
      values.push({ metricName: `${name}_sum`, labels: { method, route }, value: sum });
      values.push({ metricName: `${name}_count`, labels: { method, route }, value: count });
    }
    return values;
  }
}

interface MetricValue {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}
