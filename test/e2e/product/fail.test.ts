import { beforeAll, describe, expect, it } from 'vitest';
import { apply, e2eCluster, kubectl, podsOf, useE2eNamespace } from '../../support/e2e.ts';
import { condition, installOperator, type KinferObject, waitForCondition } from './support.ts';

/** The digest of the model shipped in the image (config/samples' full ModelDeployment names it). */
const builtinSha = '5e0ffa0e9cf9dc9a15db84913ab0dc23a46dd6c3b10c57e284589a4875eaedfa';

const degraded = (reason: string) => (object: KinferObject) =>
  condition(object, 'Degraded')?.status === 'True' && condition(object, 'Degraded')?.reason === reason;
const ready = (object: KinferObject) =>
  object.status?.observedGeneration === object.metadata.generation &&
  condition(object, 'Ready')?.status === 'True';

function modelDeployment(name: string, spec: Record<string, unknown>): object {
  return {
    apiVersion: 'kinfer.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name },
    spec: { model: { name: 'mnist-cnn', source: { builtin: 'mnist-cnn' } }, ...spec },
  };
}

/** 2,000 synthetic digits through md/serving, no retry of the runner pod. */
function inferenceJob(name: string, resources: object): object {
  return {
    apiVersion: 'kinfer.dev/v1alpha1',
    kind: 'InferenceJob',
    metadata: { name },
    spec: {
      modelDeploymentRef: { name: 'serving' },
      input: { synthetic: { count: 2000 } },
      backoffLimit: 0,
      runner: { resources },
    },
  };
}

async function patch(namespace: string, name: string, spec: object): Promise<void> {
  await kubectl(['patch', 'md', '-n', namespace, name, '--type', 'merge', '-p', JSON.stringify({ spec })]);
}

// Failures as the kubelet really produces them (no hand-written pod statuses), each reported in
// Degraded with the pod's own reason and fixed back to Ready; and a job runner over its memory
// limit, Failed with OOMKilled, then rerun to Succeeded. All five run side by side.
describe('failures on the real node, reported truthfully and recovered from', () => {
  const namespace = useE2eNamespace('fail');
  const until = (name: string, predicate: (o: KinferObject) => boolean, what: string) =>
    waitForCondition(namespace(), 'md', name, predicate, what);

  beforeAll(async () => {
    await installOperator();
    await apply(
      namespace(),
      modelDeployment('no-image', { image: '127.0.0.1:1/kinfer:does-not-exist' }),
      modelDeployment('bad-sha', {
        model: { name: 'mnist-cnn', source: { builtin: 'mnist-cnn' }, sha256: 'a'.repeat(64) },
      }),
      modelDeployment('no-secret', { server: { authSecretRef: { name: 'not-yet' } } }),
      // Far below what Node and onnxruntime need: the kernel's OOM killer ends the runtime.
      modelDeployment('tight', { resources: { requests: { memory: '48Mi' }, limits: { memory: '48Mi' } } }),
      modelDeployment('serving', {}),
      // A runner held to 40Mi: Node alone needs more (64Mi was OOM-killed too, once listening).
      inferenceJob('runner-tight', { requests: { memory: '40Mi' }, limits: { memory: '40Mi' } }),
    );
  });

  it('an image that cannot be pulled: Degraded ImagePullBackOff; the right image: Ready', async () => {
    const md = await until(
      'no-image',
      (o) => degraded('ImagePullBackOff')(o) || degraded('ErrImagePull')(o),
      'Degraded ImagePullBackOff',
    );
    expect(condition(md, 'Degraded')?.message).toContain('127.0.0.1:1/kinfer:does-not-exist');
    expect(condition(md, 'Ready')?.status).toBe('False');
    await patch(namespace(), 'no-image', { image: e2eCluster().image });
    await until('no-image', ready, 'Ready again');
  });

  it("a model whose sha256 differs: CrashLoopBackOff, the runtime's ModelChecksumMismatch; the right sha256: Ready", async () => {
    const md = await until('bad-sha', degraded('ModelChecksumMismatch'), 'Degraded');
    expect(condition(md, 'Degraded')?.message).toContain(builtinSha);
    const [pod] = await podsOf(namespace(), 'app.kubernetes.io/instance=bad-sha');
    type Terminated = { terminated?: { message?: string } };
    const status = pod?.status?.containerStatuses?.[0] as
      | { restartCount: number; state?: Terminated; lastState?: Terminated }
      | undefined;
    // The runtime's own words, from the container's termination log: in lastState once the
    // kubelet restarted it, in state while it has just exited (both were seen).
    const message = status?.state?.terminated?.message ?? status?.lastState?.terminated?.message;
    expect(message).toMatch(/^ModelChecksumMismatch: /);
    await patch(namespace(), 'bad-sha', {
      model: { name: 'mnist-cnn', source: { builtin: 'mnist-cnn' }, sha256: builtinSha },
    });
    await until('bad-sha', ready, 'Ready again');
  });

  it('an auth Secret that does not exist: FailedMount, Degraded AuthSecretMissing; the Secret created: Ready', async () => {
    const md = await until('no-secret', degraded('AuthSecretMissing'), 'Degraded');
    expect(condition(md, 'Degraded')?.message).toContain('"not-yet" (spec.server.authSecretRef.name)');
    await apply(namespace(), {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'not-yet' },
      stringData: { token: 'created-later' },
    });
    await until('no-secret', ready, 'Ready again');
  });

  it('a memory limit the runtime exceeds: OOMKilled by the kernel, Degraded; a larger limit: Ready', async () => {
    const md = await until(
      'tight',
      (o) =>
        condition(o, 'Degraded')?.status === 'True' &&
        /OOMKilled/.test(condition(o, 'Degraded')?.message ?? ''),
      'Degraded with OOMKilled',
    );
    expect(condition(md, 'Degraded')?.reason).toBe('CrashLoopBackOff');
    const [pod] = await podsOf(namespace(), 'app.kubernetes.io/instance=tight');
    const status = pod?.status?.containerStatuses?.[0] as
      | { lastState?: { terminated?: { reason?: string; exitCode?: number } } }
      | undefined;
    expect(status?.lastState?.terminated).toMatchObject({ reason: 'OOMKilled', exitCode: 137 });
    await patch(namespace(), 'tight', {
      resources: { requests: { memory: '256Mi' }, limits: { memory: '512Mi' } },
    });
    await until('tight', ready, 'Ready again');
  });

  it('a runner over its memory limit: OOMKilled by the kernel, the job Failed saying so; a rerun with a larger limit: Succeeded', async () => {
    const failed = await waitForCondition(
      namespace(),
      'ij',
      'runner-tight',
      (o) => o.status?.phase === 'Failed',
      'Failed',
    );
    const succeeded = condition(failed, 'Succeeded');
    expect(succeeded).toMatchObject({ status: 'False', reason: 'OOMKilled' });
    expect(succeeded?.message).toContain('exited with code 137');
    const [pod, ...others] = await podsOf(namespace(), 'app.kubernetes.io/instance=runner-tight');
    expect(others).toEqual([]);
    const status = pod?.status?.containerStatuses?.[0] as
      | { state?: { terminated?: { reason?: string; exitCode?: number } } }
      | undefined;
    expect(status?.state?.terminated).toMatchObject({ reason: 'OOMKilled', exitCode: 137 });

    // The spec is immutable: the fix is a new job with the limit raised.
    await apply(
      namespace(),
      inferenceJob('runner-fixed', { requests: { memory: '128Mi' }, limits: { memory: '256Mi' } }),
    );
    const done = await waitForCondition(
      namespace(),
      'ij',
      'runner-fixed',
      (o) => o.status?.phase === 'Succeeded' || o.status?.phase === 'Failed',
      'finished',
    );
    expect(done.status?.phase, JSON.stringify(done.status?.conditions)).toBe('Succeeded');
    expect(done.status?.result?.accuracy).toBeGreaterThan(0.9);
  });
});
