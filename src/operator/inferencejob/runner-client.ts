import { JobSnapshot } from '../../api/jobs.ts';
import type { KubeClient } from '../../kube/client.ts';
import { describeError } from '../../shared/errors.ts';
import { previewServiceName, RUNNER_PORT } from './desired.ts';
import type { RunnerObservation } from './status.ts';

/**
 * How the operator reaches a job runner's REST endpoint:
 * - a URL template (default `http://{service}.{namespace}.svc.cluster.local:8080`, in-cluster DNS),
 *   with `{name}`, `{namespace}`, `{service}` and `{port}` filled in per job;
 * - `apiserver-proxy`: through the apiserver's service proxy, for an operator outside the cluster.
 */
export type RunnerAccess = { kind: 'url'; template: string } | { kind: 'apiserver-proxy' };

export const defaultRunnerUrlTemplate = 'http://{service}.{namespace}.svc.cluster.local:{port}';

export function parseRunnerAccess(value: string | undefined): RunnerAccess {
  if (!value) return { kind: 'url', template: defaultRunnerUrlTemplate };
  if (value === 'apiserver-proxy') return { kind: 'apiserver-proxy' };
  const probe = fillTemplate(value, 'x', 'y');
  if (!URL.canParse(probe))
    throw new Error(`job runner URL template "${value}" is neither "apiserver-proxy" nor a URL`);
  return { kind: 'url', template: value };
}

function fillTemplate(template: string, name: string, namespace: string): string {
  return template
    .replaceAll('{name}', encodeURIComponent(name))
    .replaceAll('{namespace}', encodeURIComponent(namespace))
    .replaceAll('{service}', previewServiceName(name))
    .replaceAll('{port}', String(RUNNER_PORT));
}

/** Reads `GET /v1/jobs/{name}` from the job's runner; never throws (unreachable is an observation). */

export async function readRunner(
  access: RunnerAccess,
  client: KubeClient,
  name: string,
  namespace: string,
  timeoutMs = 2000,
): Promise<RunnerObservation> {
  const path = `/v1/jobs/${encodeURIComponent(name)}`;
  let body: unknown;
  try {
    if (access.kind === 'apiserver-proxy') {
      body = await client.request(
        'GET',
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/services/${previewServiceName(name)}:${RUNNER_PORT}/proxy${path}`,
        { timeoutMs },
      );
    } else {
      const base = fillTemplate(access.template, name, namespace).replace(/\/+$/, '');
      const response = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!response.ok) {
        // An unread body can crash the process when the peer then closes (nodejs/undici#5360).
        await response.body?.cancel();
        return { reachable: false, reason: `runner answered ${response.status}` };
      }
      body = await response.json();
    }
  } catch (error) {
    return { reachable: false, reason: `runner not reachable: ${describeError(error)}` };
  }
  const parsed = JobSnapshot.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      reachable: false,
      reason: `runner answered an invalid snapshot: ${issue?.path.join('.')}: ${issue?.message}`,
    };
  }
  if (parsed.data.name !== name || parsed.data.namespace !== namespace) {
    return {
      reachable: false,
      reason: `runner serves ${parsed.data.namespace}/${parsed.data.name}, not ${namespace}/${name}`,
    };
  }
  return { reachable: true, snapshot: parsed.data };
}
