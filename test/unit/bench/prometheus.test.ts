import { describe, expect, it } from 'vitest';
import { difference, parseSample, sumBy } from '../../../bench/support/prometheus.ts';

const text = `# HELP workqueue_work_duration_seconds How long processing an item from workqueue takes.
# TYPE workqueue_work_duration_seconds histogram
workqueue_work_duration_seconds_sum{name="deployment"} 12.5
workqueue_work_duration_seconds_sum{name="endpoint_slice"} 3
workqueue_work_duration_seconds_count{name="deployment"} 40
rest_client_requests_total{code="201",host="127.0.0.1:6443",method="POST"} 100
rest_client_requests_total{code="409",host="127.0.0.1:6443",method="POST"} 7
rest_client_requests_total{code="200",host="127.0.0.1:6443",method="PUT"} 2.5e+01
odd_metric{path="a \\"quoted\\" value"} 1 1700000000000
`;

describe('prometheus text', () => {
  it('parses labels with escaped quotes and an optional timestamp', () => {
    expect(parseSample(text.split('\n').at(-2)!)).toEqual({
      name: 'odd_metric',
      labels: { path: 'a "quoted" value' },
      value: 1,
    });
    expect(parseSample('# TYPE x counter')).toBeUndefined();
    expect(parseSample('')).toBeUndefined();
  });

  it('sums one metric per label value (or pair of values), and over all when grouped by nothing', () => {
    expect(sumBy(text, 'workqueue_work_duration_seconds_sum', ['name'])).toEqual(
      new Map([
        ['deployment', 12.5],
        ['endpoint_slice', 3],
      ]),
    );
    expect(sumBy(text, 'rest_client_requests_total', ['method'])).toEqual(
      new Map([
        ['POST', 107],
        ['PUT', 25],
      ]),
    );
    expect(sumBy(text, 'rest_client_requests_total', [])).toEqual(new Map([['', 132]]));
    expect(sumBy(text, 'rest_client_requests_total', ['method', 'code']).get('POST 409')).toBe(7);
    expect(sumBy(text, 'missing_metric', ['name']).size).toBe(0);
  });

  it('takes differences key by key, counting a new key from zero', () => {
    const before = new Map([['deployment', 2]]);
    const after = new Map([
      ['deployment', 5],
      ['endpoint', 1],
    ]);
    expect(difference(after, before)).toEqual(
      new Map([
        ['deployment', 3],
        ['endpoint', 1],
      ]),
    );
  });
});
