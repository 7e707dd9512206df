import { execFile, spawn } from 'node:child_process';
import { inject } from 'vitest';
import type { E2eCluster } from './e2e-global-setup.ts';
import { useTestNamespace, waitFor } from './kube.ts';

export type { E2eCluster } from './e2e-global-setup.ts';
export type { HostCheck } from './node/host-check.ts';

/** The e2e project's cluster (real node, kinfer image); throws the setup's error when it has none. */
export function e2eCluster(): E2eCluster {
  const error = inject('e2eError');
  if (error) throw new Error(error);
  const cluster = inject('e2eCluster');
  if (!cluster) throw new Error('no e2e cluster provided: is this file in the e2e project (test/e2e/**)?');
  return cluster;
}

/** A namespace of the calling file's own in the e2e cluster (see useTestNamespace). */
export function useE2eNamespace(prefix = 'e2e'): () => string {
  return useTestNamespace(prefix, () => e2eCluster().kubeconfig);
}

/** kubectl against the e2e cluster; resolves with stdout, rejects with stderr in the message. */
export function kubectl(
  args: string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'kubectl',
      ['--kubeconfig', e2eCluster().kubeconfig, ...args],
      { timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`kubectl ${args.join(' ')}: ${stderr.trim() || error.message}`));
        else resolve(stdout);
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/**
 * A Pod of the kinfer image on the real node, run once (restartPolicy Never): `container` adds to
 * the container (command, args, env, ...), `spec` to the pod (volumes, ...).
 */
export function kinferPod(
  name: string,
  container: object,
  spec: object = {},
  labels?: Record<string, string>,
): object {
  const cluster = e2eCluster();
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, ...(labels ? { labels } : {}) },
    spec: {
      restartPolicy: 'Never',
      nodeSelector: cluster.node.nodeSelector,
      containers: [{ name: 'kinfer', image: cluster.image, imagePullPolicy: 'Never', ...container }],
      ...spec,
    },
  };
}

/** `kubectl apply -f -` of objects given as JS values (JSON is YAML). */
export async function apply(namespace: string, ...objects: object[]): Promise<void> {
  await kubectl(['apply', '-n', namespace, '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  });
}

/** `kubectl logs -f` running in the background: `output()` is what it printed so far, `done` its end. */
export function followLogs(namespace: string, pod: string): { output: () => string; done: Promise<void> } {
  let text = '';
  const child = spawn(
    'kubectl',
    ['--kubeconfig', e2eCluster().kubeconfig, 'logs', '-f', '-n', namespace, pod],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  const done = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return { output: () => text, done };
}

interface PodLike {
  metadata: { name: string };
  status?: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { ready: boolean; restartCount: number; state?: Record<string, unknown> }[];
  };
  spec?: { nodeName?: string };
}

export async function getJson<T>(args: string[]): Promise<T> {
  return JSON.parse(await kubectl([...args, '-o', 'json'])) as T;
}

export async function podsOf(namespace: string, selector: string): Promise<PodLike[]> {
  return (await getJson<{ items: PodLike[] }>(['get', 'pods', '-n', namespace, '-l', selector])).items;
}

/** Waits for a pod to reach `phase` (e.g. Succeeded); fails early when it reaches Failed instead. */
export async function waitForPhase(
  namespace: string,
  pod: string,
  phase: string,
  timeoutMs = 120_000,
): Promise<PodLike> {
  return waitFor(
    `pod ${namespace}/${pod} ${phase}`,
    async () => {
      const current = await getJson<PodLike>(['get', 'pod', '-n', namespace, pod]);
      if (current.status?.phase === 'Failed' && phase !== 'Failed') {
        throw new Error(`pod ${pod} failed: ${JSON.stringify(current.status)}`);
      }
      return current.status?.phase === phase ? current : undefined;
    },
    { timeoutMs, intervalMs: 500 },
  );
}
