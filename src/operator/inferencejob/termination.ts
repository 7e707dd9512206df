import type { V1Pod } from '@kubernetes/client-node';
import { JobTerminationSummary } from '../../api/jobs.ts';

export interface TerminationReading {
  /** The runner's final summary from its pods' termination messages, if one is there. */
  summary: JobTerminationSummary | undefined;
  /** Messages meant as a summary (JSON) that do not validate: ignored, for the caller to log. */
  invalid: { pod: string; container: string; reason: string }[];
}

const finishedAt = (summary: JobTerminationSummary): number =>
  summary.completionTime ? Date.parse(summary.completionTime) : 0;

/**
 * The final summary the runner left in `state.terminated.message` of a Job's pods (pure). Text
 * that is not JSON is not a summary (the kubelet's log tail under FallbackToLogsOnError) and is
 * skipped silently; JSON that fails the schema, or names another job, is reported as invalid.
 * Of several pods (retries), a Succeeded summary wins, then the most recently completed.
 */
export function readTerminationSummary(
  pods: readonly V1Pod[] | undefined,
  name: string,
  namespace: string,
): TerminationReading {
  const found: JobTerminationSummary[] = [];
  const invalid: TerminationReading['invalid'] = [];
  for (const pod of pods ?? []) {
    for (const status of pod.status?.containerStatuses ?? []) {
      const message = status.state?.terminated?.message?.trim();
      if (!message?.startsWith('{')) continue;
      const where = { pod: pod.metadata?.name ?? '', container: status.name };
      let json: unknown;
      try {
        json = JSON.parse(message);
      } catch (error) {
        invalid.push({ ...where, reason: `not JSON: ${(error as Error).message}` });
        continue;
      }
      const parsed = JobTerminationSummary.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        invalid.push({ ...where, reason: `${issue?.path.join('.') || '(root)'}: ${issue?.message}` });
        continue;
      }
      if (parsed.data.name !== name || parsed.data.namespace !== namespace) {
        invalid.push({
          ...where,
          reason: `summary of ${parsed.data.namespace}/${parsed.data.name}, not ${namespace}/${name}`,
        });
        continue;
      }
      found.push(parsed.data);
    }
  }
  const summary = found.sort(
    (a, b) =>
      Number(b.phase === 'Succeeded') - Number(a.phase === 'Succeeded') || finishedAt(b) - finishedAt(a),
  )[0];
  return { summary, invalid };
}
