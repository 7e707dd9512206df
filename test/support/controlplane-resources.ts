import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { type KubeConnection, kubeRequestOk, pollUntil, serverSideApply } from './controlplane-http.ts';

// What the harness puts into a fresh control plane: kwok's fake Nodes and the project's CRDs.

const execFileAsync = promisify(execFile);

export class CrdInstallError extends Error {
  readonly code = 'crd_install_failed';
}

/** Annotation kwok is told to manage; only Nodes carrying it get kwok's fake kubelet. */
export const fakeNodeAnnotation = { key: 'kwok.x-k8s.io/node', value: 'fake' } as const;

/** Taint of the kwok nodes in a cluster with a real node: pods land there only if they tolerate it. */
export const fakeNodeTaint = {
  key: fakeNodeAnnotation.key,
  value: fakeNodeAnnotation.value,
  effect: 'NoSchedule',
} as const;

/**
 * A Node for kwok to run: big enough that no test runs out of CPU, memory or pod slots. Tainted
 * (fakeNodeTaint) when the cluster also has a real node, which then gets every pod by default.
 */
export function fakeNode(name: string, options: { tainted?: boolean } = {}): object {
  const resources = { cpu: '32', memory: '256Gi', pods: '110', 'ephemeral-storage': '1Ti' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: {
        [fakeNodeAnnotation.key]: fakeNodeAnnotation.value,
        'node.alpha.kubernetes.io/ttl': '0',
      },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        type: 'kwok',
      },
    },
    ...(options.tainted ? { spec: { taints: [fakeNodeTaint] } } : {}),
    status: {
      allocatable: resources,
      capacity: resources,
      nodeInfo: {
        architecture: 'amd64',
        operatingSystem: 'linux',
        kubeletVersion: 'fake',
        kubeProxyVersion: 'fake',
      },
    },
  };
}

/** Reads CRD names from every YAML file in `dir` (multi-document files allowed). */
export async function crdFiles(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir))
    .filter((file) => file.endsWith('.yaml') || file.endsWith('.yml'))
    .sort()
    .map((file) => join(dir, file));
}

/**
 * Installs the CRDs in `dir` with kubectl server-side apply and waits until each is Established.
 * Uses kubectl (not the harness's own HTTPS client) so it works with any kubeconfig, including a
 * reused cluster's.
 */
export async function installCrds(
  kubeconfigPath: string,
  dir: string,
  timeoutMs = 60_000,
): Promise<string[]> {
  const files = await crdFiles(dir);
  if (files.length === 0) return [];
  const kubectl = (args: string[]) =>
    execFileAsync('kubectl', ['--kubeconfig', kubeconfigPath, ...args], { timeout: timeoutMs });
  try {
    const applied = await kubectl([
      'apply',
      '--server-side',
      '--force-conflicts',
      '--field-manager=kinfer-test-harness',
      '-o',
      'name',
      ...files.flatMap((file) => ['-f', file]),
    ]);
    const names = applied.stdout
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line.startsWith('customresourcedefinition'));
    if (names.length > 0) {
      await kubectl([
        'wait',
        '--for=condition=Established',
        `--timeout=${Math.round(timeoutMs / 1000)}s`,
        ...names,
      ]);
    }
    return names;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new CrdInstallError(`installing CRDs from ${dir} failed: ${stderr || (error as Error).message}`);
  }
}

/**
 * The same as installCrds, over the harness's own HTTPS connection: no kubectl process to start,
 * which matters on the start-up path (a busy machine takes a second per kubectl run).
 */
export async function installCrdsDirect(
  connection: KubeConnection,
  dir: string,
  timeoutMs = 60_000,
): Promise<string[]> {
  const crds: { metadata: { name: string } }[] = [];
  for (const file of await crdFiles(dir)) {
    for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
      const object = doc.toJS() as { kind?: string; metadata?: { name?: string } } | null;
      if (object?.kind !== 'CustomResourceDefinition') continue;
      if (!object.metadata?.name) throw new CrdInstallError(`${file}: a CRD without metadata.name`);
      crds.push(object as { metadata: { name: string } });
    }
  }
  const base = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
  await Promise.all(
    crds.map(async (crd) => {
      const name = crd.metadata.name;
      try {
        await serverSideApply(connection, `${base}/${name}`, crd);
      } catch (error) {
        throw new CrdInstallError(`installing CRD ${name}: ${(error as Error).message}`);
      }
      await pollUntil(
        `CRD ${name} Established`,
        async () => {
          const current = JSON.parse((await kubeRequestOk(connection, 'GET', `${base}/${name}`)).body) as {
            status?: { conditions?: { type: string; status: string }[] };
          };
          return current.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')
            ? true
            : undefined;
        },
        { timeoutMs, intervalMs: 50 },
      );
    }),
  );
  return crds.map((crd) => `customresourcedefinition.apiextensions.k8s.io/${crd.metadata.name}`);
}
