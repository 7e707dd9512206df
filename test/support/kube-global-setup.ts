import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { type ControlPlane, installCrds, repoRoot, startControlPlane } from './controlplane.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Path of an admin kubeconfig for the control plane the kube project's tests share. */
    kubeconfig: string;
    /** Why the control plane is missing, when it is; every kube test then fails with it. */
    kubeconfigError: string;
  }
}

const execFileAsync = promisify(execFile);

/**
 * Global setup of the `kube` vitest project: starts one real control plane for the whole run (or
 * reuses the cluster whose kubeconfig is in KINFER_TEST_KUBECONFIG, e.g. from `npm run cluster:up`),
 * installs `crds/*.yaml`, and provides the kubeconfig path to the tests.
 *
 * When that fails, the run does not skip anything: the error is printed here and provided as
 * `kubeconfigError`, and every kube test fails with it (testKubeconfigPath() throws), so the
 * failures are counted in the run's `N passed, N failed` line. Throwing from here instead would
 * abort the unit and server projects too, and vitest would report no failed tests at all.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  try {
    const { kubeconfigPath, stop } = await prepare();
    project.provide('kubeconfig', kubeconfigPath);
    project.provide('kubeconfigError', '');
    return stop;
  } catch (error) {
    const details = (error as { logTail?: string }).logTail;
    const message = `kube tests: no control plane: ${(error as Error).message}${details ? `\n${details}` : ''}`;
    process.stderr.write(`\n${message}\n\n`);
    project.provide('kubeconfig', '');
    project.provide('kubeconfigError', message);
    return async () => {};
  }
}

async function prepare(): Promise<{ kubeconfigPath: string; stop: () => Promise<void> }> {
  const reuse = process.env.KINFER_TEST_KUBECONFIG;
  if (reuse) {
    try {
      await execFileAsync('kubectl', ['--kubeconfig', reuse, 'get', '--raw', '/readyz'], { timeout: 15_000 });
    } catch (error) {
      const reason = (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
      throw new Error(
        `KINFER_TEST_KUBECONFIG=${reuse}: the cluster is not reachable or not ready: ${reason}`,
      );
    }
    const crds = await installCrds(reuse, join(repoRoot, 'crds'));
    process.stderr.write(
      `kube tests: reusing cluster from KINFER_TEST_KUBECONFIG (${crds.length} CRDs applied)\n`,
    );
    return { kubeconfigPath: reuse, stop: async () => {} };
  }
  const controlPlane: ControlPlane = await startControlPlane({
    onBuildStart: (logPath) =>
      process.stderr.write(
        `kube tests: building the test control plane from the Go module proxy (cold: 10-20 min; log: ${logPath})\n`,
      ),
  });
  process.stderr.write(
    `kube tests: control plane ready in ${controlPlane.startupMs} ms (${controlPlane.server}, kubeconfig ${controlPlane.kubeconfigPath})\n`,
  );
  return { kubeconfigPath: controlPlane.kubeconfigPath, stop: () => controlPlane.stop() };
}
