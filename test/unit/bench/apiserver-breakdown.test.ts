import { describe, expect, it } from 'vitest';
import { histogramMeans, serviceCreateBreakdown } from '../../../bench/support/apiserver-breakdown.ts';

const services =
  'component="apiserver",dry_run="",group="",resource="services",scope="resource",subresource="",version="v1"';
const ipaddresses =
  'component="apiserver",dry_run="",group="networking.k8s.io",resource="ipaddresses",scope="cluster",subresource="",version="v1"';
const cidr = 'cidr="198.19.0.0/16"';
const flow = (schema: string, level: string) => `flow_schema="${schema}",priority_level="${level}"`;

/** The series of kube-apiserver's /metrics the breakdown reads, plus neighbours it must leave out. */
const SERIES = {
  applySum: `apiserver_request_duration_seconds_sum{${services},verb="APPLY"}`,
  applyCount: `apiserver_request_duration_seconds_count{${services},verb="APPLY"}`,
  postSum: `apiserver_request_duration_seconds_sum{${services},verb="POST"}`,
  postCount: `apiserver_request_duration_seconds_count{${services},verb="POST"}`,
  ipSum: `apiserver_request_duration_seconds_sum{${ipaddresses},verb="POST"}`,
  ipCount: `apiserver_request_duration_seconds_count{${ipaddresses},verb="POST"}`,
  allocationSum: `kube_apiserver_clusterip_allocator_allocation_duration_seconds_sum{${cidr}}`,
  allocationCount: `kube_apiserver_clusterip_allocator_allocation_duration_seconds_count{${cidr}}`,
  bitmapSum: 'etcd_request_duration_seconds_sum{operation="update",type="serviceipallocations"}',
  bitmapCount: 'etcd_request_duration_seconds_count{operation="update",type="serviceipallocations"}',
  getServiceSum: 'etcd_request_duration_seconds_sum{operation="get",type="services"}',
  getServiceCount: 'etcd_request_duration_seconds_count{operation="get",type="services"}',
  deploymentSum: 'etcd_request_duration_seconds_sum{operation="create",type="deployments.apps"}',
  deploymentCount: 'etcd_request_duration_seconds_count{operation="create",type="deployments.apps"}',
  exempt: `apiserver_flowcontrol_dispatched_requests_total{${flow('exempt', 'exempt')}}`,
  workloadLow: `apiserver_flowcontrol_dispatched_requests_total{${flow('service-accounts', 'workload-low')}}`,
  kcm: `apiserver_flowcontrol_dispatched_requests_total{${flow('kube-controller-manager', 'workload-high')}}`,
  workloadLowWaitSum: `apiserver_flowcontrol_request_wait_duration_seconds_sum{execute="true",${flow('service-accounts', 'workload-low')}}`,
  kcmWaitSum: `apiserver_flowcontrol_request_wait_duration_seconds_sum{execute="true",${flow('kube-controller-manager', 'workload-high')}}`,
};

const reading = (values: Partial<Record<keyof typeof SERIES, number>>): string =>
  Object.entries(values)
    .map(([key, value]) => `${SERIES[key as keyof typeof SERIES]} ${value}`)
    .join('\n');

// Two readings 100 Service applies apart. An exempt request is never queued, so the wait
// histogram has no series for it.
const before = reading({
  applySum: 10,
  applyCount: 20,
  postSum: 3,
  postCount: 30,
  ipSum: 1,
  ipCount: 50,
  allocationSum: 0.5,
  allocationCount: 50,
  bitmapSum: 1,
  bitmapCount: 50,
  deploymentSum: 4,
  deploymentCount: 40,
  exempt: 100,
  workloadLow: 50,
  kcm: 10,
  workloadLowWaitSum: 1,
  kcmWaitSum: 2,
});
const after = reading({
  applySum: 130,
  applyCount: 120,
  postSum: 3,
  postCount: 30,
  ipSum: 3,
  ipCount: 150,
  allocationSum: 3.5,
  allocationCount: 150,
  bitmapSum: 5,
  bitmapCount: 150,
  getServiceSum: 0.2,
  getServiceCount: 100,
  deploymentSum: 9,
  deploymentCount: 90,
  exempt: 300,
  workloadLow: 150,
  kcm: 10,
  workloadLowWaitSum: 3,
  kcmWaitSum: 2,
});

describe('serviceCreateBreakdown', () => {
  it('gives the count and mean time of the asked verb, its allocation steps, etcd requests and flows', () => {
    const breakdown = serviceCreateBreakdown(before, after, 'APPLY');
    expect(breakdown.requests).toEqual({ count: 100, meanMs: 1200 });
    expect(breakdown.allocation).toEqual({ count: 100, meanMs: 30 });
    expect(breakdown.ipAddressPosts).toEqual({ count: 100, meanMs: 20 });
    // Deployments' etcd requests are not a Service create's; a resource without requests is left out.
    expect(breakdown.etcd).toEqual(
      new Map([
        ['update serviceipallocations', { count: 100, meanMs: 40 }],
        ['get services', { count: 100, meanMs: 2 }],
      ]),
    );
    // Requests are counted as dispatched (an exempt request is never queued, so the wait histogram
    // has no sample of it); the wait is averaged over all of them. A flow with no request in
    // between is left out.
    expect(breakdown.flows).toEqual(
      new Map([
        ['exempt/exempt', { count: 200, meanMs: 0 }],
        ['service-accounts/workload-low', { count: 100, meanMs: 20 }],
      ]),
    );
  });

  it('reports a verb that made no request in between as none, not as a division by zero', () => {
    expect(serviceCreateBreakdown(before, after, 'POST').requests).toEqual({ count: 0, meanMs: 0 });
    expect(serviceCreateBreakdown(before, before, 'APPLY').allocation).toEqual({ count: 0, meanMs: 0 });
  });
});

describe('histogramMeans', () => {
  it('groups by the labels asked for, keyed as sumBy keys them', () => {
    const means = histogramMeans(before, after, 'apiserver_request_duration_seconds', ['verb', 'resource']);
    expect(means.get('APPLY services')).toEqual({ count: 100, meanMs: 1200 });
    expect(means.get('POST ipaddresses')).toEqual({ count: 100, meanMs: 20 });
    expect(means.has('POST services')).toBe(false);
  });
});
