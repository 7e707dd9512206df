import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { type ControlPlane, installCrds, repoRoot, startControlPlane } from './controlplane.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Path of an admin kubeconfig for the control plane the kube project's tests share. */
    kubeconfig: string;
  }
}

const execFileAsync = promisify(execFile);

/**
 * Global setup of the `kube` vitest project: starts one real control plane for the whole run (or
 * reuses the cluster whose kubeconfig is in KINFER_TEST_KUBECONFIG, e.g. from `npm run cluster:up`),
 * installs `crds/*.yaml`, and provides the kubeconfig path to the tests. Any failure throws, which
 * fails the run: the kube tests never silently skip.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const reuse = process.env.KINFER_TEST_KUBECONFIG;
  if (reuse) {
    try {
      await execFileAsync('kubectl', ['--kubeconfig', reuse, 'get', '--raw', '/readyz'], { timeout: 15_000 });
    } catch (error) {
      throw new Error(
        `KINFER_TEST_KUBECONFIG=${reuse}: the cluster is not reachable or not ready: ${(error as { stderr?: string }).stderr ?? error}`,
      );
    }
    const crds = await installCrds(reuse, join(repoRoot, 'crds'));
    process.stderr.write(
      `kube tests: reusing cluster from KINFER_TEST_KUBECONFIG (${crds.length} CRDs applied)\n`,
    );
    project.provide('kubeconfig', reuse);
    return async () => {};
  }

  let controlPlane: ControlPlane;
  try {
    controlPlane = await startControlPlane({
      onBuildStart: (logPath) =>
        process.stderr.write(
          `kube tests: building the test control plane from the Go module proxy (cold, can take 15+ min; log: ${logPath})\n`,
        ),
    });
  } catch (error) {
    // Thrown on purpose, also outside CI: a kube test run without a control plane is a failure.
    const details = (error as { logTail?: string }).logTail;
    throw new Error(
      `kube tests: the control plane did not start: ${(error as Error).message}${details ? `\n${details}` : ''}`,
      {
        cause: error,
      },
    );
  }
  process.stderr.write(
    `kube tests: control plane ready in ${controlPlane.startupMs} ms (${controlPlane.server}, kubeconfig ${controlPlane.kubeconfigPath})\n`,
  );
  project.provide('kubeconfig', controlPlane.kubeconfigPath);
  return async () => {
    await controlPlane.stop();
  };
}
