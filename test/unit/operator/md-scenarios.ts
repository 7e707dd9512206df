// The ModelDeployment status scenarios: what the reconciler may observe, and the conditions
// computeStatus derives. Shared by the status unit tests and the GitOps judges (test/unit/gitops),
// which run Argo CD's and kstatus's own code over the status of every scenario.
import type { V1Deployment, V1Pod, V1Service } from '@kubernetes/client-node';
import type { Observed } from '../../../src/operator/modeldeployment/status.ts';

export const spec = {
  model: { name: 'mnist-cnn', source: { builtin: 'mnist-cnn' }, sha256: 'b'.repeat(64) },
  replicas: 2,
};
export const now = new Date('2026-01-01T00:00:00Z');
export const later = new Date('2026-01-01T00:10:00Z');

export const service: V1Service = { metadata: { name: 'mnist' }, spec: { ports: [{ port: 8080 }] } };
export function deployment(status: V1Deployment['status'], generation = 2): V1Deployment {
  return { metadata: { name: 'mnist', generation }, status };
}
export const rolledOut = deployment({
  observedGeneration: 2,
  replicas: 2,
  readyReplicas: 2,
  updatedReplicas: 2,
  availableReplicas: 2,
});

export function pod(name: string, status: V1Pod['status']): V1Pod {
  return { metadata: { name }, status };
}
export const crashLoop = pod('mnist-abc', {
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
export const plainCrash = pod('mnist-abc', {
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
export const imagePull = pod('mnist-def', {
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
export const checksum = pod('mnist-ghi', {
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
export const unschedulable = pod('mnist-jkl', {
  phase: 'Pending',
  conditions: [
    { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available' },
  ],
});

export type Row = {
  what: string;
  observed: Observed;
  ready: [string, string];
  progressing: [string, string];
  degraded: [string, string];
  /** kstatus's abnormal-true pair (what kstatus concludes is judged by its own code: test/unit/gitops). */
  reconciling: [string, string];
  stalled: [string, string];
  message?: RegExp;
};

export const rows: Row[] = [
  {
    what: 'first reconcile: Deployment just created, never observed',
    observed: { deployment: deployment(undefined, 1), service, pods: [] },
    ready: ['Unknown', 'Reconciling'],
    progressing: ['Unknown', 'Reconciling'],
    degraded: ['Unknown', 'Reconciling'],
    reconciling: ['True', 'Reconciling'],
    stalled: ['False', 'Reconciling'],
  },
  {
    what: 'rolled out and ready',
    observed: { deployment: rolledOut, service, pods: [] },
    ready: ['True', 'ReplicasReady'],
    progressing: ['False', 'RolloutComplete'],
    degraded: ['False', 'AsExpected'],
    reconciling: ['False', 'ReplicasReady'],
    stalled: ['False', 'AsExpected'],
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
    // OOMKilled leaves no termination message: the kubelet's reason must still be named.
    message: /back-off 20s; last exit: OOMKilled \(exit code 137\)$/,
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
  },
  {
    what: 'ready pods but the Deployment has a newer generation than observed',
    observed: { deployment: { ...rolledOut, metadata: { generation: 3 } }, service, pods: [] },
    ready: ['Unknown', 'Reconciling'],
    progressing: ['Unknown', 'Reconciling'],
    degraded: ['Unknown', 'Reconciling'],
    reconciling: ['True', 'Reconciling'],
    stalled: ['False', 'Reconciling'],
  },
];
