/**
 * What kube-apiserver's own metrics say about the Service creates made between two readings of
 * its /metrics: how many of one verb and their mean time at the apiserver, and the steps inside a
 * create that have a metric of their own (the ClusterIP allocation, the IPAddress object the
 * allocator POSTs to its own apiserver, each etcd request), and which priority-and-fairness flow
 * the requests went through with their mean queue wait. Pure: two metrics texts in, figures out.
 */
import { difference, sumBy } from './prometheus.ts';

/** How many samples a histogram took between two readings, and their mean in milliseconds. */
export interface Mean {
  count: number;
  meanMs: number;
}

export interface ServiceCreateBreakdown {
  /** The Service writes of the verb asked for (POST or APPLY) at kube-apiserver. */
  requests: Mean;
  /**
   * ClusterIP allocations as the IPAddress allocator times them (its IPAddress POST and the
   * lookups around it; the dual write's bitmap step before it is not included: see `etcd`).
   */
  allocation: Mean;
  /** The IPAddress objects the allocator creates through the apiserver, one per ClusterIP. */
  ipAddressPosts: Mean;
  /** etcd requests by "operation resource", for Services, IPAddresses and the allocation bitmap. */
  etcd: Map<string, Mean>;
  /**
   * All requests in between by API priority-and-fairness "flow schema/priority level", with their
   * mean queue wait (0 for requests never queued).
   */
  flows: Map<string, Mean>;
}

const NONE: Mean = { count: 0, meanMs: 0 };

/**
 * An API priority-and-fairness metric's samples summed per "flow schema/priority level". Count
 * requests with `apiserver_flowcontrol_dispatched_requests_total`: the wait histogram only samples
 * requests that were queued, and an exempt request (system:masters, the apiserver's own loopback)
 * never is.
 */
export const flowSamples = (text: string, metric: string): Map<string, number> =>
  new Map(
    [...sumBy(text, metric, ['flow_schema', 'priority_level'])].map(([key, value]) => [
      key.replace(' ', '/'),
      value,
    ]),
  );

/**
 * The change of a histogram between two readings, per value of the labels `by` (joined by a
 * space, as `sumBy` keys them); groups that took no sample are left out.
 */
export function histogramMeans(
  before: string,
  after: string,
  metric: string,
  by: readonly string[],
): Map<string, Mean> {
  const counts = difference(sumBy(after, `${metric}_count`, by), sumBy(before, `${metric}_count`, by));
  const sums = difference(sumBy(after, `${metric}_sum`, by), sumBy(before, `${metric}_sum`, by));
  const means = new Map<string, Mean>();
  for (const [key, count] of counts) {
    if (count > 0) means.set(key, { count, meanMs: ((sums.get(key) ?? 0) / count) * 1000 });
  }
  return means;
}

/**
 * The etcd keys a Service create writes: the Service, its IPAddress object, and (while
 * kube-apiserver still dual-writes, the default in 1.33) the single ClusterIP allocation bitmap,
 * which every allocation reads and rewrites under one lock.
 */
const ETCD_TYPES = new Set(['services', 'ipaddresses.networking.k8s.io', 'serviceipallocations']);

export function serviceCreateBreakdown(
  before: string,
  after: string,
  verb: 'POST' | 'APPLY',
): ServiceCreateBreakdown {
  const requests = histogramMeans(before, after, 'apiserver_request_duration_seconds', ['verb', 'resource']);
  const etcd = new Map(
    [...histogramMeans(before, after, 'etcd_request_duration_seconds', ['operation', 'type'])].filter(
      ([key]) => ETCD_TYPES.has(key.split(' ')[1] ?? ''),
    ),
  );
  const dispatched = difference(
    flowSamples(after, 'apiserver_flowcontrol_dispatched_requests_total'),
    flowSamples(before, 'apiserver_flowcontrol_dispatched_requests_total'),
  );
  const waited = difference(
    flowSamples(after, 'apiserver_flowcontrol_request_wait_duration_seconds_sum'),
    flowSamples(before, 'apiserver_flowcontrol_request_wait_duration_seconds_sum'),
  );
  const flows = new Map<string, Mean>();
  for (const [key, count] of dispatched) {
    if (count > 0) flows.set(key, { count, meanMs: ((waited.get(key) ?? 0) / count) * 1000 });
  }
  return {
    requests: requests.get(`${verb} services`) ?? NONE,
    allocation:
      histogramMeans(before, after, 'kube_apiserver_clusterip_allocator_allocation_duration_seconds', []).get(
        '',
      ) ?? NONE,
    ipAddressPosts: requests.get('POST ipaddresses') ?? NONE,
    etcd,
    flows,
  };
}
