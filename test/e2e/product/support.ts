import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { repoRoot } from '../../support/controlplane.ts';
import { apply, e2eCluster, getJson, kinferPod, kubectl, waitForPhase } from '../../support/e2e.ts';
import { waitFor } from '../../support/kube.ts';

/** The image config/default names; replaced by the one built from the Dockerfile. */
const publishedImage = 'ghcr.io/kinfer-dev/kinfer:0.1.0';
export const operatorNamespace = 'kinfer-system';

/** config/default rendered by kustomize with the built image in place of the published one. */
export async function renderDefault(): Promise<string> {
  const rendered = await kubectl(['kustomize', `${repoRoot}/config/default`]);
  if (!rendered.includes(publishedImage)) throw new Error(`config/default no longer names ${publishedImage}`);
  return rendered.replaceAll(publishedImage, e2eCluster().image);
}

/**
 * Installs kinfer as the README says (`kubectl apply --server-side -k config/default`, image set to
 * the built one) and waits for the operator pod to be Ready; a no-op when that image already runs.
 * Returns how long the apply took to a Ready operator.
 */
export async function installOperator(): Promise<{ elapsedMs: number }> {
  const started = Date.now();
  await kubectl(['apply', '--server-side', '--field-manager=e2e', '-f', '-'], {
    input: await renderDefault(),
  });
  await kubectl(
    ['rollout', 'status', '-n', operatorNamespace, 'deployment/kinfer-operator', '--timeout=180s'],
    { timeoutMs: 190_000 },
  );
  return { elapsedMs: Date.now() - started };
}

/** The fields of a ModelDeployment or InferenceJob these tests read. */
export interface KinferObject {
  metadata: { name: string; generation?: number; resourceVersion?: string };
  spec: Record<string, unknown> & { replicas?: number };
  status?: {
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    endpoints?: { rest: string; infer: string; websocket: string };
    previewEndpoint?: string;
    readyReplicas?: number;
    phase?: string;
    result?: Record<string, unknown>;
    observedGeneration?: number;
  };
}

export const condition = (object: KinferObject | undefined, type: string) =>
  object?.status?.conditions?.find((c) => c.type === type);

/** A ModelDeployment whose current generation has `replicas` Ready pods and Ready True. */
export const readyWith = (replicas: number) => (object: KinferObject) =>
  object.status?.observedGeneration === object.metadata.generation &&
  object.status?.readyReplicas === replicas &&
  condition(object, 'Ready')?.status === 'True';

const clientScript = readFileSync(new URL('./client.mjs', import.meta.url), 'utf8');

/**
 * Starts test/e2e/product/client.mjs in a pod of the kinfer image on the real node (the ConfigMap
 * `client` holds it); KINFER_CLIENT_MODE and the other variables in `env` say what it does.
 */
export async function clientPod(namespace: string, name: string, env: Record<string, string>): Promise<void> {
  await apply(
    namespace,
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'client' },
      data: { 'client.mjs': clientScript },
    },
    kinferPod(
      name,
      {
        command: ['node', '/client/client.mjs'],
        env: Object.entries(env).map(([key, value]) => ({ name: key, value })),
        volumeMounts: [{ name: 'client', mountPath: '/client' }],
      },
      { volumes: [{ name: 'client', configMap: { name: 'client' } }] },
    ),
  );
}

/** Waits for a client pod to succeed and returns the JSON it printed after RESULT. */
export async function clientResult<T>(namespace: string, name: string, timeoutMs = 120_000): Promise<T> {
  try {
    await waitForPhase(namespace, name, 'Succeeded', timeoutMs);
  } catch (error) {
    const logs = await kubectl(['logs', '-n', namespace, name]).catch(() => '');
    throw new Error(`${(error as Error).message}\nclient logs:\n${logs}`);
  }
  const logs = await kubectl(['logs', '-n', namespace, name]);
  const line = logs.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`client ${name} printed no RESULT:\n${logs}`);
  return JSON.parse(line.slice('RESULT '.length)) as T;
}

/** A client pod run to its end: its RESULT. */
export async function runClient<T>(
  namespace: string,
  name: string,
  env: Record<string, string>,
  timeoutMs = 120_000,
): Promise<T> {
  await clientPod(namespace, name, env);
  return clientResult<T>(namespace, name, timeoutMs);
}

/** `kubectl get KIND -w -o json` in the background: every version seen, in arrival order. */
export function watchObjects<T>(
  namespace: string,
  args: string[],
): { seen: { at: number; object: T }[]; stop: () => void } {
  const seen: { at: number; object: T }[] = [];
  const child = spawn(
    'kubectl',
    ['--kubeconfig', e2eCluster().kubeconfig, 'get', '-n', namespace, ...args, '-w', '-o', 'json'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  // kubectl prints one pretty-printed JSON document per event, back to back.
  let buffer = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    for (;;) {
      const end = buffer.indexOf('\n}\n');
      if (end < 0) break;
      seen.push({ at: Date.now(), object: JSON.parse(buffer.slice(0, end + 2)) as T });
      buffer = buffer.slice(end + 3);
    }
  });
  return { seen, stop: () => child.kill() };
}

export async function getObject(namespace: string, kind: string, name: string): Promise<KinferObject> {
  return getJson<KinferObject>(['get', kind, '-n', namespace, name]);
}

export async function waitForCondition(
  namespace: string,
  kind: string,
  name: string,
  predicate: (object: KinferObject) => boolean,
  what: string,
  timeoutMs = 180_000,
): Promise<KinferObject> {
  return waitFor(
    `${kind}/${name} ${what}`,
    async () => {
      const object = await getObject(namespace, kind, name);
      return predicate(object) ? object : undefined;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

/** The apiserver's own authorizer (a SubjectAccessReview): may `user` do `verb` on `resource` in `namespace`? */
export async function allowed(
  user: string,
  namespace: string,
  verb: string,
  group: string,
  resource: string,
): Promise<boolean> {
  const review = JSON.parse(
    await kubectl(['create', '-o', 'json', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: { user, resourceAttributes: { namespace, verb, group, resource } },
      }),
    }),
  ) as { status: { allowed: boolean } };
  return review.status.allowed;
}

export interface Binding {
  kind: string;
  metadata: { name: string; namespace?: string };
  roleRef: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}

/** Whether a binding names the ServiceAccount `namespace/name` among its subjects. */
export const bindsServiceAccount = (binding: Binding, namespace: string, name: string): boolean =>
  binding.subjects?.some(
    (s) => s.kind === 'ServiceAccount' && s.name === name && s.namespace === namespace,
  ) ?? false;

/** Every ClusterRoleBinding and RoleBinding in the cluster that binds the ServiceAccount `namespace/name`. */
export async function liveBindingsOf(namespace: string, name: string): Promise<Binding[]> {
  return [
    ...(await getJson<{ items: Binding[] }>(['get', 'clusterrolebindings'])).items.map((b) => ({
      ...b,
      kind: 'ClusterRoleBinding',
    })),
    ...(await getJson<{ items: Binding[] }>(['get', 'rolebindings', '-A'])).items.map((b) => ({
      ...b,
      kind: 'RoleBinding',
    })),
  ].filter((binding) => bindsServiceAccount(binding, namespace, name));
}

/**
 * The operator's Lease `namespace/kinfer-operator` held by `pod` (holderIdentity `POD_…`) and
 * renewed while the test watches: the two versions seen.
 */
export async function leaseHeldAndRenewed(
  namespace: string,
  pod: string,
): Promise<{ first: string; renewed: string }> {
  type Lease = { spec: { holderIdentity?: string; renewTime?: string } };
  const read = () =>
    getJson<Lease>(['get', 'lease', '-n', namespace, 'kinfer-operator']).catch(() => undefined);
  const lease = await waitFor(`the operator Lease held by ${pod}`, async () => {
    const current = await read();
    return current?.spec.holderIdentity?.startsWith(`${pod}_`) ? current : undefined;
  });
  const renewed = await waitFor(
    'the Lease renewed',
    async () => {
      const current = await read();
      return current?.spec.holderIdentity?.startsWith(`${pod}_`) &&
        current.spec.renewTime !== lease.spec.renewTime
        ? current
        : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 1000 },
  );
  return { first: lease.spec.renewTime ?? '', renewed: renewed.spec.renewTime ?? '' };
}
