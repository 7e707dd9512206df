import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RequestMetrics } from '../../../src/runtime/http/request-metrics.ts';

const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const requests = {
  name: 'kinfer_http_requests_total',
  help: 'HTTP requests by route template, method and status code',
};
const duration = {
  name: 'kinfer_http_request_duration_seconds',
  help: 'HTTP request latency by route template and method',
};

/** The same observations recorded by prom-client's own Counter and Histogram. */
function reference(observations: [string, string, number, number][]): Registry {
  const registry = new Registry();
  const counter = new Counter({
    ...requests,
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const histogram = new Histogram({
    ...duration,
    labelNames: ['method', 'route'],
    buckets,
    registers: [registry],
  });
  for (const [method, route, status, seconds] of observations) {
    counter.inc({ method, route, status: String(status) });
    histogram.observe({ method, route }, seconds);
  }
  return registry;
}

function ours(observations: [string, string, number, number][]): Registry {
  const registry = new Registry();
  const metrics = new RequestMetrics(registry, { requests, duration: { ...duration, buckets } });
  for (const observation of observations) metrics.observe(...observation);
  return registry;
}

describe('RequestMetrics', () => {
  it("writes exactly what prom-client's Counter and Histogram write for the same requests", async () => {
    const observations: [string, string, number, number][] = [];
    const routes = ['/v2/models/:model/infer', '/healthz', 'unmatched'];
    for (let i = 0; i < 500; i++) {
      const seconds = [0, 0.001, 0.0007, 0.003, 0.01, 0.04, 0.6, 2.5, 11, 1e-5 * i][i % 10]!;
      observations.push([
        i % 7 === 0 ? 'GET' : 'POST',
        routes[i % 3]!,
        [200, 400, 503, 404][i % 4]!,
        seconds,
      ]);
    }
    const expected = await reference(observations).metrics();
    expect(await ours(observations).metrics()).toBe(expected);
    expect(expected).toMatch(
      /^kinfer_http_requests_total\{method="POST",route="\/healthz",status="400"\} \d+$/m,
    );
    expect(expected).toMatch(
      /^kinfer_http_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="unmatched"\} \d+$/m,
    );
  });

  it('writes only the help and type lines before any request, as prom-client does', async () => {
    expect(await ours([]).metrics()).toBe(await reference([]).metrics());
  });

  it('answers a single metric by name, and starts over on reset', async () => {
    const registry = ours([['POST', '/v2/models/:model/infer', 200, 0.002]]);
    expect(await registry.getSingleMetricAsString(requests.name)).toBe(
      await reference([['POST', '/v2/models/:model/infer', 200, 0.002]]).getSingleMetricAsString(
        requests.name,
      ),
    );
    registry.resetMetrics();
    expect(await registry.metrics()).toBe(await reference([]).metrics());
  });
});
