import type { CoreV1Event, V1Deployment, V1Pod, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { computeStatus, mountProblem } from '../../../src/operator/modeldeployment/status.ts';
import { md } from './fixtures.ts';

// A ModelDeployment whose auth Secret the kubelet cannot mount: the pod waits in ContainerCreating
// and only the kubelet's FailedMount Events say why. They are an observed input of the status.
const spec = {
  model: { name: 'mnist-cnn', source: { builtin: 'mnist-cnn' } },
  replicas: 1,
  server: { authSecretRef: { name: 'tok' } },
};
const now = new Date('2026-01-01T00:00:00Z');
const later = new Date('2026-01-01T00:05:00Z');
const service: V1Service = { metadata: { name: 'mnist' }, spec: { ports: [{ port: 8080 }] } };
const deployment: V1Deployment = {
  metadata: { name: 'mnist', generation: 2 },
  status: {
    observedGeneration: 2,
    replicas: 1,
    updatedReplicas: 1,
    readyReplicas: 0,
    unavailableReplicas: 1,
  },
};

const creating: V1Pod = {
  metadata: { name: 'mnist-7d4b9-x2k8p', namespace: 'ml', uid: 'pod-1' },
  status: {
    phase: 'Pending',
    conditions: [{ type: 'Ready', status: 'False', reason: 'ContainersNotReady' }],
    containerStatuses: [
      {
        name: 'predictor',
        image: 'kinfer',
        imageID: '',
        ready: false,
        restartCount: 0,
        state: { waiting: { reason: 'ContainerCreating' } },
      },
    ],
  },
};
const ready: V1Pod = {
  ...creating,
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
};

const secretNotFound = 'MountVolume.SetUp failed for volume "auth-token" : secret "tok" not found';
const keyMissing =
  'MountVolume.SetUp failed for volume "auth-token" : references non-existent secret key: token';
const configMapNotFound = 'MountVolume.SetUp failed for volume "model" : configmap "digits" not found';

function failedMount(
  message: string,
  overrides: Partial<CoreV1Event['involvedObject']> = {},
  count = 1,
): CoreV1Event {
  return {
    metadata: { name: `mnist-7d4b9-x2k8p.${count}`, namespace: 'ml' },
    involvedObject: { kind: 'Pod', namespace: 'ml', name: 'mnist-7d4b9-x2k8p', uid: 'pod-1', ...overrides },
    reason: 'FailedMount',
    type: 'Warning',
    message,
    count,
    lastTimestamp: new Date(now.getTime() + count * 1000),
  };
}

const rows: {
  what: string;
  pods: V1Pod[];
  events: CoreV1Event[];
  degraded: [string, string];
  message?: RegExp;
}[] = [
  {
    what: 'missing auth Secret: AuthSecretMissing naming the Secret, the field, the pod and the kubelet',
    pods: [creating],
    events: [failedMount(secretNotFound)],
    degraded: ['True', 'AuthSecretMissing'],
    message:
      /^pod mnist-7d4b9-x2k8p: Secret "tok" \(spec\.server\.authSecretRef\.name\) must exist in namespace ml with key "token": MountVolume\.SetUp failed for volume "auth-token" : secret "tok" not found$/,
  },
  {
    what: 'auth Secret without key token: AuthSecretMissing',
    pods: [creating],
    events: [failedMount(keyMissing)],
    degraded: ['True', 'AuthSecretMissing'],
    message: /references non-existent secret key: token$/,
  },
  {
    what: 'another volume: the kubelet reason and message',
    pods: [creating],
    events: [failedMount(configMapNotFound)],
    degraded: ['True', 'FailedMount'],
    message:
      /^pod mnist-7d4b9-x2k8p: MountVolume\.SetUp failed for volume "model" : configmap "digits" not found$/,
  },
  {
    what: 'no event: no problem observed',
    pods: [creating],
    events: [],
    degraded: ['False', 'AsExpected'],
  },
  {
    what: 'the pod became Ready: its old event says nothing any more',
    pods: [ready],
    events: [failedMount(secretNotFound)],
    degraded: ['False', 'AsExpected'],
  },
  {
    what: 'an event about another pod',
    pods: [creating],
    events: [failedMount(secretNotFound, { name: 'other-pod', uid: 'pod-9' })],
    degraded: ['False', 'AsExpected'],
  },
  {
    what: 'an event about an earlier pod of the same name (other uid)',
    pods: [creating],
    events: [failedMount(secretNotFound, { uid: 'pod-0' })],
    degraded: ['False', 'AsExpected'],
  },
  {
    what: 'an event about a pod being deleted',
    pods: [{ ...creating, metadata: { ...creating.metadata, deletionTimestamp: now } }],
    events: [failedMount(secretNotFound)],
    degraded: ['False', 'AsExpected'],
  },
];

describe('FailedMount Events in the ModelDeployment status', () => {
  it.each(rows)('$what', ({ pods, events, degraded, message }) => {
    const status = computeStatus(md(spec), { deployment, service, pods, mountEvents: events }, now);
    const byType = Object.fromEntries((status.conditions ?? []).map((c) => [c.type, c]));
    expect([byType.Degraded?.status, byType.Degraded?.reason]).toEqual(degraded);
    if (message) expect(byType.Degraded?.message).toMatch(message);
    expect(byType.Ready?.status).toBe('False');
    // Stalled mirrors Degraded, so kstatus tools read a missing Secret as Failed, not InProgress.
    expect(byType.Stalled?.status).toBe(degraded[0] === 'True' ? 'True' : 'False');
  });

  it('is stable while the kubelet retries (count and timestamps change): no write, no hot loop', () => {
    const first = computeStatus(
      md(spec),
      { deployment, service, pods: [creating], mountEvents: [failedMount(secretNotFound, {}, 1)] },
      now,
    );
    const second = computeStatus(
      md(spec, 'mnist', first),
      { deployment, service, pods: [creating], mountEvents: [failedMount(secretNotFound, {}, 7)] },
      later,
    );
    expect(second).toEqual(first);
  });

  it('picks the same event whatever order the cache lists them in', () => {
    const events = [failedMount(secretNotFound), failedMount(keyMissing, {}, 2)];
    expect(mountProblem(md(spec), creating, events)).toEqual(
      mountProblem(md(spec), creating, [...events].reverse()),
    );
  });

  it('gives a pod’s own failing state precedence over its mount events', () => {
    const crashing: V1Pod = {
      ...creating,
      status: {
        containerStatuses: [
          {
            name: 'predictor',
            image: 'kinfer',
            imageID: '',
            ready: false,
            restartCount: 1,
            state: { waiting: { reason: 'ImagePullBackOff', message: 'no such image' } },
          },
        ],
      },
    };
    const status = computeStatus(
      md(spec),
      { deployment, service, pods: [crashing], mountEvents: [failedMount(secretNotFound)] },
      now,
    );
    expect(status.conditions?.find((c) => c.type === 'Degraded')?.reason).toBe('ImagePullBackOff');
  });
});
