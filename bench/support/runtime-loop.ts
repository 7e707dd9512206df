import { difference, sumBy } from './prometheus.ts';

/**
 * A `kinfer runtime`'s own event loop over a phase of a benchmark, read from its /metrics
 * (prom-client's default metrics): the event-loop delay percentiles, which prom-client measures
 * since its previous scrape (so a scrape at the phase's start resets them), and the GC pauses by
 * kind (major, minor, incremental, weakcb), counters read at both ends, and the size of V8's new
 * space at the end (it grows with the allocation rate, up to --max-semi-space-size).
 */
export interface RuntimeLoop {
  /** Event-loop delay (ms) since the phase began: p50, p99, max. */
  delay: { p50: number; p99: number; max: number };
  /** GC pauses on the event loop during the phase: total ms and how many, by kind. */
  gcMs: Map<string, number>;
  gcCount: Map<string, number>;
  /** V8's new space (the young generation's semi-spaces) at the phase's end, MiB. */
  newSpaceMiB: number;
}

const prefix = 'kinfer_nodejs_';

async function scrape(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  return response.text(); // read whole: an unread body can crash Node 24's fetch
}

/** Starts watching: resets the delay histogram and returns what to call at the phase's end. */
export async function watchRuntimeLoop(port: number): Promise<() => Promise<RuntimeLoop>> {
  const before = await scrape(port);
  return async () => {
    const after = await scrape(port);
    const gauge = (name: string) =>
      (sumBy(after, `${prefix}eventloop_lag_${name}_seconds`, []).get('') ?? 0) * 1000;
    const gc = (series: string) =>
      difference(
        sumBy(after, `${prefix}gc_duration_seconds_${series}`, ['kind']),
        sumBy(before, `${prefix}gc_duration_seconds_${series}`, ['kind']),
      );
    return {
      delay: { p50: gauge('p50'), p99: gauge('p99'), max: gauge('max') },
      gcMs: new Map([...gc('sum')].map(([kind, seconds]) => [kind, seconds * 1000])),
      gcCount: gc('count'),
      newSpaceMiB:
        (sumBy(after, `${prefix}heap_space_size_total_bytes`, ['space']).get('new') ?? 0) / 2 ** 20,
    };
  };
}
