import { writeFileSync } from 'node:fs';
import { type JobSnapshot, type JobTerminationSummary, terminationMessageLimit } from '../api/jobs.ts';

/**
 * The runner's final snapshot as its termination message: compact JSON that fits the kubelet's
 * 4096 bytes. Everything but the error message has a bounded size (~600 bytes at most), so only
 * that message is clipped. Undefined while the job has not finished.
 */
export function terminationSummaryText(snapshot: JobSnapshot): string | undefined {
  if (snapshot.phase !== 'Succeeded' && snapshot.phase !== 'Failed') return undefined;
  const { seq: _seq, ...rest } = snapshot;
  const summary: JobTerminationSummary = { ...rest, phase: snapshot.phase };
  let text = JSON.stringify(summary);
  const error = summary.error;
  if (Buffer.byteLength(text) > terminationMessageLimit && error) {
    const overhead = Buffer.byteLength(text) - Buffer.byteLength(JSON.stringify(error.message));
    // Clip by characters until the JSON (escapes and multi-byte characters included) fits.
    let keep = Math.max(0, terminationMessageLimit - overhead - 8);
    do {
      text = JSON.stringify({
        ...summary,
        error: { ...error, message: `${error.message.slice(0, keep)}...` },
      });
      keep = Math.floor(keep * 0.9);
    } while (Buffer.byteLength(text) > terminationMessageLimit && keep > 0);
  }
  return text;
}

/** Writes the summary to `path` (the container's terminationMessagePath); never throws. */
export function writeTerminationSummary(path: string, snapshot: JobSnapshot): boolean {
  const text = terminationSummaryText(snapshot);
  if (text === undefined) return false;
  try {
    writeFileSync(path, text);
    return true;
  } catch {
    return false;
  }
}
