import type { V1Deployment, V1Pod, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  computeStatus,
  type Observed,
  parseTerminationMessage,
  podProblem,
} from '../../../src/operator/modeldeployment/status.ts';
import { md } from './fixtures.ts';
import { type KStatus, kstatusOf } from './kstatus.ts';

const spec = {
  model: { name: 'mnist-cnn', source: { builtin: 'mnist-cnn' }, sha256: 'b'.repeat(64) },
  replicas: 2,
};
const now = new Date('2026-01-01T00:00:00Z');
const later = new Date('2026-01-01T00:10:00Z');

const service: V1Service = { metadata: { name: 'mnist' }, spec: { ports: [{ port: 8080 }] } };
function deployment(status: V1Deployment['status'], generation = 2): V1Deployment {
  return { metadata: { name: 'mnist', generation }, status };
}
const rolledOut = deployment({
  observedGeneration: 2,
  replicas: 2,
  readyReplicas: 2,
  updatedReplicas: 2,
  availableReplicas: 2,
});

function pod(name: string, status: V1Pod['status']): V1Pod {
  return { metadata: { name }, status };
}
const crashLoop = pod('mnist-abc', {
  phase: 'Running',
  containerStatuses: [
    {
      name: 'predictor',
      image: 'kinfer',
      imageID: '',
      ready: false,
      restartCount: 4,
      state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } },
      lastState: {
        terminated: { exitCode: 1, reason: 'Error', message: 'ModelLoadFailed: protobuf parsing failed' },
      },
    },
  ],
});
const plainCrash = pod('mnist-abc', {
  containerStatuses: [
    {
      name: 'predictor',
      image: 'kinfer',
      imageID: '',
      ready: false,
      restartCount: 2,
      state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 20s' } },
      lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } },
    },
  ],
});
const imagePull = pod('mnist-def', {
  containerStatuses: [
    {
      name: 'predictor',
      image: 'nope:1',
      imageID: '',
      ready: false,
      restartCount: 0,
      state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "nope:1"' } },
    },
  ],
});
const checksum = pod('mnist-ghi', {
  initContainerStatuses: [
    {
      name: 'fetch-model',
      image: 'kinfer',
      imageID: '',
      ready: false,
      restartCount: 1,
      state: {
        terminated: {
          exitCode: 1,
          reason: 'Error',
          message: 'ModelChecksumMismatch: sha256 is 00, expected bb\n',
        },
      },
    },
  ],
});
const unschedulable = pod('mnist-jkl', {
  phase: 'Pending',
  conditions: [
    { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available' },
  ],
});

type Row = {
  what: string;
  observed: Observed;
  ready: [string, string];
  progressing: [string, string];
  degraded: [string, string];
  /** kstatus's abnormal-true pair: Reconciling and Stalled, and what kstatus concludes. */
  reconciling: [string, string];
  stalled: [string, string];
  kstatus: KStatus;
  message?: RegExp;
};

const rows: Row[] = [
  {
    what: 'first reconcile: Deployment just created, never observed',
    observed: { deployment: deployment(undefined, 1), service, pods: [] },
    ready: ['Unknown', 'Reconciling'],
    progressing: ['Unknown', 'Reconciling'],
    degraded: ['Unknown', 'Reconciling'],
    reconciling: ['True', 'Reconciling'],
    stalled: ['False', 'Reconciling'],
    kstatus: 'InProgress',
  },
  {
    what: 'rolled out and ready',
    observed: { deployment: rolledOut, service, pods: [] },
    ready: ['True', 'ReplicasReady'],
    progressing: ['False', 'RolloutComplete'],
    degraded: ['False', 'AsExpected'],
    reconciling: ['False', 'ReplicasReady'],
    stalled: ['False', 'AsExpected'],
    kstatus: 'Current',
  },
  {
    what: 'scaling up',
    observed: {
      deployment: deployment({
        observedGeneration: 2,
        replicas: 1,
        readyReplicas: 1,
        updatedReplicas: 1,
        availableReplicas: 1,
      }),
      service,
      pods: [],
    },
    ready: ['False', 'ReplicasNotReady'],
    progressing: ['True', 'RollingOut'],
    degraded: ['False', 'AsExpected'],
    reconciling: ['True', 'RollingOut'],
    stalled: ['False', 'AsExpected'],
    kstatus: 'InProgress',
  },
  {
    what: 'pods exist but not ready yet',
    observed: {
      deployment: deployment({ observedGeneration: 2, replicas: 2, readyReplicas: 0, updatedReplicas: 2 }),
      service,
      pods: [],
    },
    ready: ['False', 'ReplicasNotReady'],
    progressing: ['True', 'WaitingForReady'],
    degraded: ['False', 'AsExpected'],
    reconciling: ['True', 'WaitingForReady'],
    stalled: ['False', 'AsExpected'],
    kstatus: 'InProgress',
  },
  {
    what: 'model load failure in CrashLoopBackOff: reason from the termination message',
    observed: {
      deployment: deployment({ observedGeneration: 2, replicas: 2, readyReplicas: 1, updatedReplicas: 2 }),
      service,
      pods: [crashLoop],
    },
    ready: ['False', 'ModelLoadFailed'],
    progressing: ['True', 'WaitingForReady'],
    degraded: ['True', 'ModelLoadFailed'],
    reconciling: ['False', 'ModelLoadFailed'],
    stalled: ['True', 'ModelLoadFailed'],
    kstatus: 'Failed',
    message: /pod mnist-abc, container predictor: protobuf parsing failed/,
  },
  {
    what: 'plain CrashLoopBackOff keeps the kubelet reason',
    observed: {
      deployment: deployment({ observedGeneration: 2, replicas: 2, updatedReplicas: 2 }),
      service,
      pods: [plainCrash],
    },
    ready: ['False', 'CrashLoopBackOff'],
    progressing: ['True', 'WaitingForReady'],
    degraded: ['True', 'CrashLoopBackOff'],
    reconciling: ['False', 'CrashLoopBackOff'],
    stalled: ['True', 'CrashLoopBackOff'],
    kstatus: 'Failed',
    message: /back-off 20s/,
  },
  {
    what: 'ImagePullBackOff with the pull message',
    observed: {
      deployment: deployment({ observedGeneration: 2, replicas: 2, updatedReplicas: 2 }),
      service,
      pods: [imagePull],
    },
    ready: ['False', 'ImagePullBackOff'],
    progressing: ['True', 'WaitingForReady'],
    degraded: ['True', 'ImagePullBackOff'],
    reconciling: ['False', 'ImagePullBackOff'],
    stalled: ['True', 'ImagePullBackOff'],
    kstatus: 'Failed',
    message: /Back-off pulling image "nope:1"/,
  },
  {
    what: 'sha256 mismatch in the fetch-model init container',
    observed: {
      deployment: deployment({ observedGeneration: 2, replicas: 2, updatedReplicas: 2 }),
      service,
      pods: [checksum],
    },
    ready: ['False', 'ModelChecksumMismatch'],
    progressing: ['True', 'WaitingForReady'],
    degraded: ['True', 'ModelChecksumMismatch'],
    reconciling: ['False', 'ModelChecksumMismatch'],
    stalled: ['True', 'ModelChecksumMismatch'],
    kstatus: 'Failed',
    message: /container fetch-model: sha256 is 00, expected bb/,
  },
  {
    what: 'unschedulable pod',
    observed: {
      deployment: deployment({ observedGeneration: 2, replicas: 2, updatedReplicas: 2 }),
      service,
      pods: [unschedulable],
    },
    ready: ['False', 'Unschedulable'],
    progressing: ['True', 'WaitingForReady'],
    degraded: ['True', 'Unschedulable'],
    reconciling: ['False', 'Unschedulable'],
    stalled: ['True', 'Unschedulable'],
    kstatus: 'Failed',
  },
  {
    what: 'rollout past its progress deadline',
    observed: {
      deployment: deployment({
        observedGeneration: 2,
        replicas: 3,
        updatedReplicas: 1,
        readyReplicas: 2,
        conditions: [
          { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'timed out' },
        ],
      }),
      service,
      pods: [],
    },
    ready: ['False', 'ProgressDeadlineExceeded'],
    progressing: ['False', 'ProgressDeadlineExceeded'],
    degraded: ['True', 'ProgressDeadlineExceeded'],
    reconciling: ['False', 'ProgressDeadlineExceeded'],
    stalled: ['True', 'ProgressDeadlineExceeded'],
    kstatus: 'Failed',
  },
  {
    what: 'a problem of the operator itself (apply failed)',
    observed: {
      deployment: undefined,
      service: undefined,
      pods: [],
      problem: { reason: 'ApplyFailed', message: 'HTTP 500' },
    },
    ready: ['False', 'ApplyFailed'],
    progressing: ['False', 'ApplyFailed'],
    degraded: ['True', 'ApplyFailed'],
    reconciling: ['False', 'ApplyFailed'],
    stalled: ['True', 'ApplyFailed'],
    kstatus: 'Failed',
  },
  {
    what: 'ready pods but the Deployment has a newer generation than observed',
    observed: { deployment: { ...rolledOut, metadata: { generation: 3 } }, service, pods: [] },
    ready: ['Unknown', 'Reconciling'],
    progressing: ['Unknown', 'Reconciling'],
    degraded: ['Unknown', 'Reconciling'],
    reconciling: ['True', 'Reconciling'],
    stalled: ['False', 'Reconciling'],
    kstatus: 'InProgress',
  },
];

describe('computeStatus', () => {
  it.each(rows)(
    '$what',
    ({ observed, ready, progressing, degraded, reconciling, stalled, kstatus, message }) => {
      const status = computeStatus(md(spec), observed, now);
      const byType = Object.fromEntries((status.conditions ?? []).map((c) => [c.type, c]));
      expect(status.conditions?.map((c) => c.type)).toEqual([
        'Ready',
        'Progressing',
        'Degraded',
        'Reconciling',
        'Stalled',
      ]);
      expect([byType.Ready?.status, byType.Ready?.reason]).toEqual(ready);
      expect([byType.Progressing?.status, byType.Progressing?.reason]).toEqual(progressing);
      expect([byType.Degraded?.status, byType.Degraded?.reason]).toEqual(degraded);
      expect([byType.Reconciling?.status, byType.Reconciling?.reason]).toEqual(reconciling);
      expect([byType.Stalled?.status, byType.Stalled?.reason]).toEqual(stalled);
      for (const condition of status.conditions ?? []) expect(condition.observedGeneration).toBe(3);
      if (message) expect(byType.Degraded?.message).toMatch(message);
      if (stalled[0] === 'True') expect(byType.Stalled?.message).toBe(byType.Degraded?.message);
      // What kstatus-based tools (Flux, kpt, cli-utils apply) conclude from this status.
      expect(kstatusOf({ metadata: { generation: 3 }, status: status as never })).toBe(kstatus);
    },
  );

  it("reads as InProgress to kstatus while not Ready, with Progressing's message", () => {
    const status = computeStatus(
      md(spec),
      {
        deployment: deployment({ observedGeneration: 2, replicas: 2, readyReplicas: 0, updatedReplicas: 2 }),
        service,
        pods: [],
      },
      now,
    );
    expect(kstatusOf({ metadata: { generation: 3 }, status: status as never })).toBe('InProgress');
    expect(status.conditions?.find((c) => c.type === 'Reconciling')?.message).toBe(
      status.conditions?.find((c) => c.type === 'Progressing')?.message,
    );
  });

  it('reports replicas, selector, model, observedGeneration and the endpoints of the Service', () => {
    const status = computeStatus(md(spec), { deployment: rolledOut, service, pods: [] }, now);
    expect(status).toMatchObject({
      observedGeneration: 3,
      replicas: 2,
      readyReplicas: 2,
      updatedReplicas: 2,
      selector:
        'app.kubernetes.io/component=predictor,app.kubernetes.io/instance=mnist,app.kubernetes.io/name=kinfer',
      model: { name: 'mnist-cnn', sha256: 'b'.repeat(64) },
      endpoints: {
        rest: 'http://mnist.ml.svc.cluster.local:8080',
        infer: 'http://mnist.ml.svc.cluster.local:8080/v2/models/mnist-cnn/infer',
        websocket: 'ws://mnist.ml.svc.cluster.local:8080/ws',
      },
    });
    expect(
      computeStatus(md(spec), { deployment: rolledOut, service: undefined, pods: [] }, now).endpoints,
    ).toBeUndefined();
  });

  it('is stable: recomputing from its own output later changes nothing (no write, no hot loop)', () => {
    const observed = { deployment: rolledOut, service, pods: [] };
    const first = computeStatus(md(spec), observed, now);
    const second = computeStatus(md(spec, 'mnist', first), observed, later);
    expect(second).toEqual(first);
  });

  it('moves lastTransitionTime only for conditions whose status changed', () => {
    const first = computeStatus(md(spec), { deployment: deployment(undefined, 1), service, pods: [] }, now);
    const second = computeStatus(
      md(spec, 'mnist', first),
      { deployment: rolledOut, service, pods: [] },
      later,
    );
    // Stalled stayed False (Unknown Degraded is not stalled): its time stays put.
    for (const condition of second.conditions ?? [])
      expect([condition.type, condition.lastTransitionTime]).toEqual([
        condition.type,
        condition.type === 'Stalled' ? '2026-01-01T00:00:00Z' : '2026-01-01T00:10:00Z',
      ]);
    const third = computeStatus(
      md(spec, 'mnist', second),
      { deployment: rolledOut, service, pods: [] },
      new Date('2026-01-01T01:00:00Z'),
    );
    expect(third).toEqual(second);
  });

  it('ignores pods that are being deleted', () => {
    const terminating = { ...crashLoop, metadata: { name: 'old', deletionTimestamp: now } };
    const status = computeStatus(md(spec), { deployment: rolledOut, service, pods: [terminating] }, now);
    expect(status.conditions?.find((c) => c.type === 'Degraded')?.status).toBe('False');
  });
});

describe('podProblem and termination messages', () => {
  it('is undefined for a healthy pod', () => {
    expect(
      podProblem(
        pod('ok', {
          phase: 'Running',
          containerStatuses: [
            {
              name: 'predictor',
              image: '',
              imageID: '',
              ready: true,
              restartCount: 0,
              state: { running: {} },
            },
          ],
        }),
      ),
    ).toBeUndefined();
  });
  it.each([
    ['ModelLoadFailed: bad file', { reason: 'ModelLoadFailed', message: 'bad file' }],
    ['  ModelChecksumMismatch: x\n', { reason: 'ModelChecksumMismatch', message: 'x' }],
    ['panic: something', undefined],
    ['Error: lowercase later', { reason: 'Error', message: 'lowercase later' }],
    ['no reason here', undefined],
    [undefined, undefined],
  ])('%j → %j', (message, expected) => {
    expect(parseTerminationMessage(message)).toEqual(expected);
  });
});
