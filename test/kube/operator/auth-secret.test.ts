import { describe, expect, it } from 'vitest';
import { testKubeconfigPath } from '../../support/kube.ts';
import {
  conditionsOf,
  type Json,
  kubectl,
  kubectlApply,
  kubectlJson,
  modelDeployment,
  until,
  useTestOperator,
} from './support.ts';

// A missing auth Secret leaves the predictor pod in ContainerCreating; only the kubelet's
// FailedMount Event says why. kwok's fake kubelet mounts nothing, so this test plays the kubelet:
// it writes the pod's waiting status and the Event through the API, as a kubelet would.
const { namespace } = useTestOperator('op-auth');
const kubeconfig = testKubeconfigPath;

const getMd = () => kubectlJson(kubeconfig(), ['get', '-n', namespace(), 'md/guarded']);
const kubeletMessage = 'MountVolume.SetUp failed for volume "auth-token" : secret "no-such-token" not found';

function failedMountEvent(pod: Json, count: number): object {
  const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${pod.metadata.name}.failedmount`, namespace: namespace() },
    involvedObject: {
      apiVersion: 'v1',
      kind: 'Pod',
      name: pod.metadata.name,
      namespace: namespace(),
      uid: pod.metadata.uid,
    },
    reason: 'FailedMount',
    type: 'Warning',
    message: kubeletMessage,
    source: { component: 'kubelet', host: pod.spec.nodeName ?? 'kwok-node' },
    firstTimestamp: at,
    lastTimestamp: at,
    count,
  };
}

describe('a ModelDeployment whose auth Secret cannot be mounted', () => {
  it('is Degraded (AuthSecretMissing) with the kubelet’s message, and recovers once the Secret exists', async () => {
    await kubectlApply(kubeconfig(), [
      modelDeployment('guarded', namespace(), { server: { authSecretRef: { name: 'no-such-token' } } }),
    ]);
    // The fake kubelet runs the pod to Ready; a real one would leave it waiting for its volume.
    await kubectl(kubeconfig(), [
      'wait',
      '-n',
      namespace(),
      '--for=condition=Ready',
      'md/guarded',
      '--timeout=60s',
    ]);
    const pods = await kubectlJson(kubeconfig(), [
      'get',
      'pods',
      '-n',
      namespace(),
      '-l',
      'app.kubernetes.io/instance=guarded',
    ]);
    const pod = pods.items[0];
    await kubectl(kubeconfig(), [
      'patch',
      '-n',
      namespace(),
      'pod',
      pod.metadata.name,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({
        status: {
          phase: 'Pending',
          conditions: [
            { type: 'Ready', status: 'False', reason: 'ContainersNotReady' },
            { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady' },
          ],
          containerStatuses: [
            {
              name: 'predictor',
              image: pod.spec.containers[0].image,
              imageID: '',
              ready: false,
              started: false,
              restartCount: 0,
              state: { waiting: { reason: 'ContainerCreating' } },
            },
          ],
        },
      }),
    ]);
    await kubectlApply(kubeconfig(), [failedMountEvent(pod, 1)]);

    const degraded = await until('Degraded=True AuthSecretMissing', async () => {
      const md = await getMd();
      // readyReplicas 0 too: the Deployment controller has seen the pod go unready, nothing else moves.
      return conditionsOf(md).Degraded?.reason === 'AuthSecretMissing' && md.status.readyReplicas === 0
        ? md
        : undefined;
    });
    const conditions = conditionsOf(degraded);
    expect(conditions.Degraded.status).toBe('True');
    expect(conditions.Degraded.message).toBe(
      `pod ${pod.metadata.name}: Secret "no-such-token" (spec.server.authSecretRef.name) must exist in namespace ${namespace()} with key "token": ${kubeletMessage}`,
    );
    expect(conditions.Ready).toMatchObject({ status: 'False', reason: 'AuthSecretMissing' });
    expect(conditions.Stalled).toMatchObject({ status: 'True', reason: 'AuthSecretMissing' });

    // The kubelet retries and bumps the Event's count: the status says the same, so no write.
    await kubectlApply(kubeconfig(), [failedMountEvent(pod, 2)]);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect((await getMd()).metadata.resourceVersion).toBe(degraded.metadata.resourceVersion);

    // The user creates the Secret; the kubelet mounts it, and the Event goes (here: deleted).
    await kubectl(kubeconfig(), [
      'create',
      'secret',
      'generic',
      'no-such-token',
      '-n',
      namespace(),
      '--from-literal=token=s3cret',
    ]);
    await kubectl(kubeconfig(), ['delete', 'event', '-n', namespace(), `${pod.metadata.name}.failedmount`]);
    const recovered = await until('Degraded=False', async () => {
      const md = await getMd();
      return conditionsOf(md).Degraded?.status === 'False' ? md : undefined;
    });
    expect(conditionsOf(recovered).Degraded.reason).toBe('AsExpected');
  });
});
