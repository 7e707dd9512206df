/**
 * What a benchmark phase cost the control plane: CPU-seconds of each component, and from
 * kube-controller-manager's metrics its API requests by method, the seconds its controllers' work
 * items took (per controller: deployment, replicaset, endpoint, endpoint_slice, …) and the seconds
 * they waited on their client-side rate limiter (--kube-api-qps / --kube-api-burst), and from
 * kube-apiserver's the mean time of its writes per resource (a Service create allocates a ClusterIP).
 */
import type { ControlPlane } from '../../test/support/controlplane.ts';
import { flowSamples } from './apiserver-breakdown.ts';
import { cpuSeconds } from './load.ts';
import { difference, sumBy } from './prometheus.ts';

export interface ClusterReading {
  cpu: Map<string, number>;
  kcmRequests: Map<string, number>;
  kcmWorkSeconds: Map<string, number>;
  kcmRateLimitWaitSeconds: number;
  /** kube-apiserver's writes: seconds and counts by "VERB resource[/subresource]". */
  apiWriteSeconds: Map<string, number>;
  apiWrites: Map<string, number>;
  /**
   * kube-apiserver's requests by API priority-and-fairness "flow schema/priority level", and the
   * seconds they waited in its queues: which flow each client's requests went through.
   */
  apfWaitSeconds: Map<string, number>;
  apfRequests: Map<string, number>;
}

const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'APPLY', 'DELETE']);

/** The apiserver's write samples of one metric, keyed "VERB resource[/subresource]". */
function apiWritesOf(text: string, metric: string): Map<string, number> {
  const byKey = new Map<string, number>();
  for (const [key, value] of sumBy(text, metric, ['verb', 'resource', 'subresource'])) {
    const [verb, resource, subresource] = key.split(' ');
    if (!verb || !WRITE_VERBS.has(verb)) continue;
    const name = `${verb} ${resource}${subresource ? `/${subresource}` : ''}`;
    byKey.set(name, (byKey.get(name) ?? 0) + value);
  }
  return byKey;
}

const components = ['kube-apiserver', 'etcd', 'kube-controller-manager', 'kube-scheduler', 'kwok'] as const;

export async function readCluster(controlPlane: ControlPlane): Promise<ClusterReading> {
  const pids = controlPlane.pids();
  const cpu = new Map<string, number>();
  for (const name of components) {
    const pid = pids[name];
    if (pid) cpu.set(name, cpuSeconds(pid));
  }
  const [kcm, api] = await Promise.all([
    controlPlane.metrics('kube-controller-manager'),
    controlPlane.metrics('kube-apiserver'),
  ]);
  return {
    cpu,
    kcmRequests: sumBy(kcm, 'rest_client_requests_total', ['method']),
    kcmWorkSeconds: sumBy(kcm, 'workqueue_work_duration_seconds_sum', ['name']),
    kcmRateLimitWaitSeconds: sumBy(kcm, 'rest_client_rate_limiter_duration_seconds_sum', []).get('') ?? 0,
    apiWriteSeconds: apiWritesOf(api, 'apiserver_request_duration_seconds_sum'),
    apiWrites: apiWritesOf(api, 'apiserver_request_duration_seconds_count'),
    apfWaitSeconds: flowSamples(api, 'apiserver_flowcontrol_request_wait_duration_seconds_sum'),
    apfRequests: flowSamples(api, 'apiserver_flowcontrol_dispatched_requests_total'),
  };
}

export function clusterDifference(after: ClusterReading, before: ClusterReading): ClusterReading {
  return {
    cpu: difference(after.cpu, before.cpu),
    kcmRequests: difference(after.kcmRequests, before.kcmRequests),
    kcmWorkSeconds: difference(after.kcmWorkSeconds, before.kcmWorkSeconds),
    kcmRateLimitWaitSeconds: after.kcmRateLimitWaitSeconds - before.kcmRateLimitWaitSeconds,
    apiWriteSeconds: difference(after.apiWriteSeconds, before.apiWriteSeconds),
    apiWrites: difference(after.apiWrites, before.apiWrites),
    apfWaitSeconds: difference(after.apfWaitSeconds, before.apfWaitSeconds),
    apfRequests: difference(after.apfRequests, before.apfRequests),
  };
}

/** Report lines for one phase's cost, per object where a count is given. */
export function describeClusterCost(cost: ClusterReading, objects: number): string[] {
  const perObject = (value: number) => `${(value / objects).toFixed(2)} / object`;
  const cpu = [...cost.cpu].map(([name, value]) => `${name} ${value.toFixed(0)}`).join(', ');
  const requests = [...cost.kcmRequests]
    .filter(([, value]) => value > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([method, value]) => `${method} ${value} (${perObject(value)})`)
    .join(', ');
  const busiest = [...cost.kcmWorkSeconds]
    .filter(([, value]) => value >= 0.5)
    .sort(([, a], [, b]) => b - a)
    .map(([name, value]) => `${name} ${value.toFixed(0)}`)
    .join(', ');
  // The writes the phase made most of, with their mean time at the apiserver.
  const writes = [...cost.apiWrites]
    .filter(([, count]) => count >= objects / 2)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([key, count]) =>
        `${key} ${count} x ${(((cost.apiWriteSeconds.get(key) ?? 0) / count) * 1000).toFixed(0)} ms`,
    )
    .join(', ');
  // The flows that carried a sizeable share of the phase's requests, with their mean queue wait.
  const flows = [...cost.apfRequests]
    .filter(([, count]) => count >= objects / 2)
    .sort(([, a], [, b]) => b - a)
    .map(
      ([key, count]) =>
        `${key} ${count} (${(((cost.apfWaitSeconds.get(key) ?? 0) / count) * 1000).toFixed(1)} ms wait)`,
    )
    .join(', ');
  return [
    `  control plane CPU-s: ${cpu}`,
    `  kube-apiserver requests by priority-and-fairness flow (mean queue wait): ${flows || 'none'}`,
    `  kube-apiserver writes (count x mean time): ${writes || 'none'}`,
    `  kube-controller-manager API requests: ${requests || 'none'}`,
    `  kube-controller-manager seconds in work items by controller: ${busiest || 'none over 0.5 s'}`,
    `  kube-controller-manager worker-seconds waiting on its client rate limiter: ${cost.kcmRateLimitWaitSeconds.toFixed(0)}`,
  ];
}
