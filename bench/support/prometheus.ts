/**
 * Sums of Prometheus text-format samples, grouped by one label: what a benchmark needs to turn a
 * component's counters (e.g. kube-controller-manager's per-controller work-queue seconds) into
 * per-phase figures by taking the difference of two readings.
 */

/** One sample line: metric name, its labels, its value; undefined for comments and blank lines. */
export function parseSample(
  line: string,
): { name: string; labels: Record<string, string>; value: number } | undefined {
  const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line.trim());
  if (!match) return undefined;
  const labels: Record<string, string> = {};
  for (const label of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
    labels[label[1]!] = label[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return { name: match[1]!, labels, value: Number(match[3]) };
}

/**
 * The samples of `metric` summed per value of the labels `by`, joined by a space (no labels: all
 * of them under ''), e.g. `sumBy(text, 'workqueue_work_duration_seconds_sum', ['name'])` →
 * Map { 'deployment' => 12.3, … }.
 */
export function sumBy(text: string, metric: string, by: readonly string[]): Map<string, number> {
  const sums = new Map<string, number>();
  for (const line of text.split('\n')) {
    const sample = parseSample(line);
    if (!sample || sample.name !== metric || !Number.isFinite(sample.value)) continue;
    const key = by.map((label) => sample.labels[label] ?? '').join(' ');
    sums.set(key, (sums.get(key) ?? 0) + sample.value);
  }
  return sums;
}

/** `after - before` per key (a key missing before counts from 0). */
export function difference(after: Map<string, number>, before: Map<string, number>): Map<string, number> {
  return new Map([...after].map(([key, value]) => [key, value - (before.get(key) ?? 0)]));
}
