import type { JobResult } from '../api/jobs.ts';

/** Index of the largest of the 10 probabilities of image `i` in a [N,10] row-major array. */
export function argmax10(probabilities: ArrayLike<number>, i: number): number {
  let best = 0;
  let bestValue = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < 10; k++) {
    const value = probabilities[i * 10 + k]!;
    if (value > bestValue) {
      bestValue = value;
      best = k;
    }
  }
  return best;
}

/** Nearest-rank percentile (p in 0..100) of an unsorted list; 0 for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

/**
 * Accumulates a job's outcome one completed batch at a time. Each batch is recorded exactly once
 * (`record` refuses a batch index it has already seen), which is what keeps retries from
 * double-counting images.
 */
export class ResultAccumulator {
  readonly classCounts: number[] = new Array(10).fill(0);
  processed = 0;
  labelled = 0;
  correct = 0;
  retries = 0;
  private readonly latencies: number[] = [];
  private readonly seen = new Set<number>();

  /** `labels[j]` is the label of the batch's j-th image, or undefined for unlabelled input. */
  record(
    batchIndex: number,
    predictions: readonly number[],
    labels: ArrayLike<number> | undefined,
    latencyMs: number,
  ): void {
    if (this.seen.has(batchIndex)) throw new Error(`batch ${batchIndex} recorded twice`);
    this.seen.add(batchIndex);
    this.latencies.push(latencyMs);
    predictions.forEach((predicted, j) => {
      this.classCounts[predicted]! += 1;
      if (labels) {
        this.labelled += 1;
        if (labels[j] === predicted) this.correct += 1;
      }
    });
    this.processed += predictions.length;
  }

  result(durationMs: number): JobResult {
    return {
      classCounts: [...this.classCounts],
      ...(this.labelled > 0 ? { accuracy: this.correct / this.labelled } : {}),
      labelled: this.labelled,
      imagesPerSecond: durationMs > 0 ? (this.processed * 1000) / durationMs : 0,
      latencyMs: { p50: percentile(this.latencies, 50), p99: percentile(this.latencies, 99) },
      retries: this.retries,
      durationMs,
    };
  }
}
