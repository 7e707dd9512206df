import { describe, expect, it } from 'vitest';
import {
  defaultRunnerConfig,
  desiredJob,
  desiredService,
} from '../../../src/operator/inferencejob/desired.ts';
import {
  computeStatus,
  lastWords,
  type Observed,
  reasonOf,
} from '../../../src/operator/inferencejob/status.ts';
import {
  failedJob,
  failedSnapshot,
  job,
  labelledResult,
  now,
  oomKilledPods,
  pendingJob,
  readyModel,
  runningJob,
  snapshot,
  succeededSnapshot,
} from './ij-scenarios.ts';

const condition = (status: ReturnType<typeof computeStatus>, type: string) =>
  status.conditions?.find((c) => c.type === type);

describe('computeStatus', () => {
  it('waits with a reason while the ModelDeployment is missing or not Ready', () => {
    const missing = computeStatus(job(), { model: { found: false }, job: undefined, runner: undefined }, now);
    expect(missing.phase).toBe('Pending');
    expect(condition(missing, 'Ready')).toMatchObject({ status: 'False', reason: 'ModelDeploymentNotFound' });
    expect(condition(missing, 'Succeeded')).toMatchObject({ status: 'Unknown', reason: 'WaitingForModel' });
    const notReady = computeStatus(
      job(),
      {
        model: { found: true, ready: false, reason: 'Progressing', message: '0/2 ready', infer: undefined },
        job: undefined,
        runner: undefined,
      },
      now,
    );
    expect(condition(notReady, 'Ready')).toMatchObject({ reason: 'ModelDeploymentNotReady' });
    expect(condition(notReady, 'Ready')?.message).toContain('0/2 ready');
    expect(notReady.previewEndpoint).toBeUndefined();
  });

  it('follows the runner: Ready while it serves, progress copied', () => {
    const status = computeStatus(
      job(),
      { model: readyModel, job: runningJob, runner: { reachable: true, snapshot: snapshot() } },
      now,
    );
    expect(status.phase).toBe('Running');
    expect(status.previewEndpoint).toBe('ws://digits-preview.ml.svc.cluster.local:8080/ws/jobs/digits');
    expect(status.progress).toEqual({ processed: 40, total: 100, percent: 40 });
    expect(status.startTime).toBe('2026-11-21T23:59:02Z');
    expect(condition(status, 'Ready')).toMatchObject({
      status: 'True',
      reason: 'RunnerServing',
      observedGeneration: 1,
    });
    expect(condition(status, 'Succeeded')?.status).toBe('Unknown');
  });

  it('succeeds with the runner result and then stays final', () => {
    const result = labelledResult;
    const done = computeStatus(
      job(),
      {
        model: readyModel,
        job: runningJob,
        runner: {
          reachable: true,
          snapshot: snapshot({
            phase: 'Succeeded',
            progress: { processed: 100, total: 100, percent: 100 },
            result,
            completionTime: '2026-11-21T23:59:30.000Z',
          }),
        },
      },
      now,
    );
    expect(done.phase).toBe('Succeeded');
    expect(done.result).toEqual({
      classCounts: result.classCounts,
      accuracy: 0.9921,
      imagesPerSecond: 5000,
      latencyMs: { p50: 3, p99: 9 },
    });
    expect(done.completionTime).toBe('2026-11-21T23:59:30Z');
    expect(condition(done, 'Succeeded')).toMatchObject({ status: 'True', reason: 'Completed' });
    expect(condition(done, 'Ready')).toMatchObject({ status: 'True', reason: 'JobSucceeded' });
    const later = computeStatus(
      job({ status: done }),
      { model: { found: false }, job: undefined, runner: { reachable: false, reason: 'gone' } },
      now,
    );
    expect(later).toEqual(done);
  });

  it('fails with the runner error code as the reason', () => {
    const status = computeStatus(
      job(),
      {
        model: readyModel,
        job: runningJob,
        runner: {
          reachable: true,
          snapshot: snapshot({
            phase: 'Failed',
            error: { code: 'model_unavailable', message: 'batch 3 failed' },
          }),
        },
      },
      now,
    );
    expect(status.phase).toBe('Failed');
    expect(condition(status, 'Succeeded')).toMatchObject({
      status: 'False',
      reason: 'ModelUnavailable',
      message: 'batch 3 failed',
    });
  });

  it("fails a crashed Job with the pod's reason and the last words of its message", () => {
    const status = computeStatus(
      job(),
      {
        model: readyModel,
        job: failedJob(),
        pods: oomKilledPods,
        runner: { reachable: false, reason: 'ECONNREFUSED' },
      },
      now,
    );
    expect(status.phase).toBe('Failed');
    expect(condition(status, 'Succeeded')).toMatchObject({ status: 'False', reason: 'OOMKilled' });
    expect(condition(status, 'Succeeded')?.message).toContain('backoff limit');
    expect(condition(status, 'Succeeded')?.message).toContain('exited with code 137: …');
    expect(condition(status, 'Succeeded')?.message).toMatch(/: …[a-z]+ [\s\S]*out of memory$/);
    // Ready names the failure; it does not claim a runner that never served is lingering.
    expect(condition(status, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'JobFinished',
      message: 'the job failed (OOMKilled); what happened is in the Succeeded condition',
    });
    expect(status.completionTime).toBe('2026-11-21T23:59:40Z');
  });

  it('says why the runner is not Ready while it cannot be reached', () => {
    const status = computeStatus(
      job(),
      { model: readyModel, job: runningJob, runner: { reachable: false, reason: 'connect ECONNREFUSED' } },
      now,
    );
    expect(condition(status, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'RunnerNotReachable',
      message: 'connect ECONNREFUSED',
    });
    expect(status.phase).toBe('Running');
  });

  // The conditions kstatus reads (Reconciling/Stalled, then Ready); what it concludes from them is
  // judged by its own code in test/unit/gitops.
  it.each([
    [
      'no ModelDeployment',
      { model: { found: false }, job: undefined, runner: undefined },
      'Pending',
      ['True', 'ModelDeploymentNotFound'],
      'False',
    ],
    [
      'runner Job created, no pod active yet',
      { model: readyModel, job: pendingJob, runner: undefined },
      'Pending',
      ['True', 'RunnerNotReachable'],
      'False',
    ],
    [
      'runner serving',
      { model: readyModel, job: runningJob, runner: { reachable: true, snapshot: snapshot() } },
      'Running',
      ['True', 'Running'],
      'False',
    ],
    [
      'running, runner briefly unreachable',
      {
        model: readyModel,
        job: runningJob,
        runner: { reachable: false, reason: 'connect ECONNREFUSED' },
      },
      'Running',
      ['True', 'RunnerNotReachable'],
      'False',
    ],
    [
      'succeeded',
      { model: readyModel, job: runningJob, runner: { reachable: true, snapshot: succeededSnapshot } },
      'Succeeded',
      ['False', 'Completed'],
      'False',
    ],
    [
      'failed',
      { model: readyModel, job: runningJob, runner: { reachable: true, snapshot: failedSnapshot } },
      'Failed',
      ['False', 'InputInvalid'],
      'True',
    ],
  ] as const)('kstatus conditions: %s', (_what, observed, phase, reconciling, stalled) => {
    const status = computeStatus(job(), observed as Observed, now);
    expect(status.phase).toBe(phase);
    expect(status.conditions?.map((c) => c.type)).toEqual(['Ready', 'Succeeded', 'Reconciling', 'Stalled']);
    const rec = condition(status, 'Reconciling');
    expect([rec?.status, rec?.reason]).toEqual(reconciling);
    expect(condition(status, 'Stalled')?.status).toBe(stalled);
    if (stalled === 'True')
      expect(condition(status, 'Stalled')).toMatchObject({
        reason: condition(status, 'Succeeded')?.reason,
        message: condition(status, 'Succeeded')?.message,
      });
    const ready = condition(status, 'Ready');
    if (reconciling[0] === 'True')
      expect(rec?.message).toBe(
        (ready?.status === 'False' ? ready : condition(status, 'Succeeded'))?.message,
      );
    // Recomputing from its own output changes nothing: no extra write.
    expect(computeStatus(job({ status }), observed as Observed, now)).toEqual(status);
  });

  /** A stored finished status recomputed an hour later (nothing observed any more), and again. */
  const recomputedLater = (stored: ReturnType<typeof computeStatus>) => {
    const later = new Date('2026-11-22T01:00:00Z');
    const gone: Observed = { model: { found: false }, job: undefined, runner: undefined };
    const upgraded = computeStatus(job({ status: stored }), gone, later);
    expect(computeStatus(job({ status: upgraded }), gone, later)).toEqual(upgraded);
    return upgraded;
  };

  it('adds the kstatus pair to a status that finished before it existed, once', () => {
    const failed = computeStatus(
      job(),
      { model: readyModel, job: runningJob, runner: { reachable: true, snapshot: failedSnapshot } },
      now,
    );
    const stored = {
      ...failed,
      conditions: failed.conditions?.filter((c) => c.type === 'Ready' || c.type === 'Succeeded'),
    };
    const upgraded = recomputedLater(stored);
    expect(condition(upgraded, 'Stalled')).toMatchObject({ status: 'True', reason: 'InputInvalid' });
    expect({ ...upgraded, conditions: upgraded.conditions?.slice(0, 2) }).toEqual(stored);
  });

  it('marks a succeeded status stored with Ready False as Ready, once', () => {
    const done = computeStatus(
      job(),
      { model: readyModel, job: runningJob, runner: { reachable: true, snapshot: succeededSnapshot } },
      now,
    );
    const ready = condition(done, 'Ready');
    const stored = {
      ...done,
      conditions: done.conditions?.map((c) =>
        c.type === 'Ready'
          ? { ...c, status: 'False' as const, reason: 'JobFinished', message: 'the job succeeded' }
          : c,
      ),
    };
    const upgraded = recomputedLater(stored);
    expect(condition(upgraded, 'Ready')).toEqual({ ...ready, lastTransitionTime: '2026-11-22T01:00:00Z' });
  });

  it('spells runner error codes as condition reasons', () => {
    expect(reasonOf('input_invalid')).toBe('InputInvalid');
  });

  it('keeps the last words of a long message, cut at a word boundary', () => {
    const log = `Traceback (most recent call last): ${'frame '.repeat(100)}MemoryError: out of memory`;
    const kept = lastWords(log, 60);
    expect(kept.length).toBeLessThanOrEqual(60);
    expect(kept).toBe('…frame frame frame frame frame MemoryError: out of memory');
    expect(lastWords('short', 60)).toBe('short');
    // Cut right at a word's start: nothing is dropped.
    expect(lastWords('aaaa bbbb cccc', 10)).toBe('…bbbb cccc');
    expect(lastWords('x'.repeat(20), 10)).toBe(`…${'x'.repeat(9)}`);
  });
});

describe('desired objects', () => {
  it('runs kinfer job with the spec in the environment, restricted and owned', () => {
    const ij = job({
      spec: {
        modelDeploymentRef: { name: 'mnist' },
        input: { configMap: { name: 'digits', key: 'images.idx' } },
        backoffLimit: 1,
      },
    });
    const desired = desiredJob(ij, readyModel.infer, defaultRunnerConfig);
    expect(desired.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: 'InferenceJob',
      name: 'digits',
      uid: 'u-1',
      controller: true,
    });
    expect(desired.spec).toMatchObject({
      backoffLimit: 1,
      activeDeadlineSeconds: 600,
      ttlSecondsAfterFinished: 3600,
    });
    const pod = desired.spec!.template.spec!;
    expect(pod.automountServiceAccountToken).toBe(false);
    const container = pod.containers[0]!;
    expect(container.args).toEqual(['job']);
    const env = Object.fromEntries(container.env!.map((e) => [e.name, e.value]));
    expect(JSON.parse(env.KINFER_SPEC!)).toEqual(ij.spec);
    expect(env.KINFER_MODEL_ENDPOINT).toBe(readyModel.infer);
    expect(env.KINFER_INPUT_FILE).toBe('/var/run/kinfer/input/input');
    expect(pod.volumes?.find((v) => v.name === 'input')?.configMap).toEqual({
      name: 'digits',
      items: [{ key: 'images.idx', path: 'input' }],
    });
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
    });
    expect(JSON.stringify(desiredJob(ij, readyModel.infer, defaultRunnerConfig))).toBe(
      JSON.stringify(desired),
    );
  });

  it('puts a Service named NAME-preview in front of the runner pod', () => {
    const service = desiredService(job());
    expect(service.metadata?.name).toBe('digits-preview');
    expect(service.spec?.ports).toEqual([
      { name: 'preview', port: 8080, targetPort: 'preview', protocol: 'TCP' },
    ]);
    const labels = desiredJob(job(), readyModel.infer, defaultRunnerConfig).spec!.template.metadata!.labels!;
    for (const [key, value] of Object.entries(service.spec!.selector!)) expect(labels[key]).toBe(value);
  });
});
