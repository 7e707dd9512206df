import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseInferenceJob } from '../../../src/api/index.ts';
import { type JobSnapshot, JobTerminationSummary, terminationMessageLimit } from '../../../src/api/jobs.ts';
import { terminationSummaryText } from '../../../src/jobs/termination.ts';
import {
  defaultRunnerConfig,
  desiredJob,
  type ParsedInferenceJob,
} from '../../../src/operator/inferencejob/desired.ts';
import { computeStatus } from '../../../src/operator/inferencejob/status.ts';
import { readTerminationSummary } from '../../../src/operator/inferencejob/termination.ts';
import { runnerPod } from './ij-scenarios.ts';

const now = new Date('2026-11-22T00:00:00Z');

const succeeded: JobSnapshot = {
  name: 'digits',
  namespace: 'ml',
  phase: 'Succeeded',
  progress: { processed: 100, total: 100, percent: 100 },
  seq: 42,
  startTime: '2026-11-21T23:59:02.500Z',
  completionTime: '2026-11-21T23:59:03.250Z',
  result: {
    classCounts: [10, 11, 9, 10, 10, 10, 10, 10, 10, 10],
    accuracy: 0.99,
    labelled: 100,
    imagesPerSecond: 1234.5678,
    latencyMs: { p50: 4.25, p99: 9.5 },
    retries: 1,
    durationMs: 81.01,
  },
};

const failed = (message: string): JobSnapshot => ({
  name: 'digits',
  namespace: 'ml',
  phase: 'Failed',
  progress: { processed: 64, total: 100, percent: 64 },
  seq: 9,
  startTime: '2026-11-21T23:59:02.500Z',
  completionTime: '2026-11-21T23:59:05.000Z',
  error: { code: 'model_unavailable', message },
});

describe('the runner termination message', () => {
  it('is the final snapshot without seq, as JSON the operator schema accepts', () => {
    const text = terminationSummaryText(succeeded)!;
    const { seq: _seq, ...rest } = succeeded;
    expect(JobTerminationSummary.parse(JSON.parse(text))).toEqual(rest);
    expect(terminationSummaryText({ ...succeeded, phase: 'Running' })).toBeUndefined();
  });

  it('fits the kubelet limit at the largest numbers, with room to spare', () => {
    const big = Number.MAX_SAFE_INTEGER;
    const text = terminationSummaryText({
      ...succeeded,
      progress: { processed: big, total: big, percent: 100 },
      result: {
        classCounts: new Array(10).fill(big),
        accuracy: 0.12345678901234568,
        labelled: big,
        imagesPerSecond: 1.2345678901234567e300,
        latencyMs: { p50: 1.2345678901234567e300, p99: 1.2345678901234567e300 },
        retries: big,
        durationMs: 1.2345678901234567e300,
      },
    })!;
    console.log(`largest successful summary: ${Buffer.byteLength(text)} bytes`);
    expect(Buffer.byteLength(text)).toBeLessThan(terminationMessageLimit / 4);
  });

  it('clips a long error message (quotes, newlines, multi-byte) to fit 4096 bytes', () => {
    const message = `model "x" answered 503:\n${'überlastet ✗ '.repeat(2000)}`;
    const text = terminationSummaryText(failed(message))!;
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(terminationMessageLimit);
    expect(Buffer.byteLength(text)).toBeGreaterThan(terminationMessageLimit - 600);
    const parsed = JobTerminationSummary.parse(JSON.parse(text));
    expect(parsed.error?.code).toBe('model_unavailable');
    expect(parsed.error?.message.startsWith('model "x" answered 503:\nüberlastet')).toBe(true);
    expect(parsed.error?.message.endsWith('...')).toBe(true);
    // A short one is kept whole.
    expect(JSON.parse(terminationSummaryText(failed('gone'))!).error.message).toBe('gone');
  });
});

const pod = (name: string, message: string | undefined, exitCode = 0): V1Pod =>
  runnerPod(name, {
    exitCode,
    reason: exitCode === 0 ? 'Completed' : 'Error',
    ...(message ? { message } : {}),
  });

describe('readTerminationSummary', () => {
  it('reads the summary a runner pod left', () => {
    const { summary, invalid } = readTerminationSummary(
      [pod('digits-a', terminationSummaryText(succeeded))],
      'digits',
      'ml',
    );
    expect(invalid).toEqual([]);
    expect(summary?.result?.classCounts).toEqual(succeeded.result!.classCounts);
    expect(summary?.progress).toEqual(succeeded.progress);
  });

  it('reports malformed or foreign JSON, skips log text and missing messages, never throws', () => {
    const { summary, invalid } = readTerminationSummary(
      [
        pod('truncated', '{"name":"digits","namespace":"ml","phase":"Succ', 1),
        pod('wrong-shape', JSON.stringify({ ...failed('x'), progress: { processed: -1 } }), 1),
        pod('other-job', terminationSummaryText({ ...succeeded, name: 'other' })),
        pod('log-tail', 'Error: connect ECONNREFUSED\n    at TCPConnectWrap', 1),
        pod('no-message', undefined),
        { metadata: { name: 'no-status' } },
      ],
      'digits',
      'ml',
    );
    expect(summary).toBeUndefined();
    expect(invalid.map((i) => i.pod)).toEqual(['truncated', 'wrong-shape', 'other-job']);
    expect(invalid[0]!.reason).toMatch(/not JSON/);
    expect(invalid[1]!.reason).toMatch(/progress/);
    expect(invalid[2]!.reason).toMatch(/ml\/other/);
  });

  it('prefers a Succeeded summary over earlier failed attempts, then the latest', () => {
    const first = failed('first');
    const second = { ...failed('second'), completionTime: '2026-11-21T23:59:09.000Z' };
    const { summary } = readTerminationSummary(
      [
        pod('a', terminationSummaryText(first), 1),
        pod('b', terminationSummaryText(second), 1),
        pod('c', terminationSummaryText(succeeded)),
      ],
      'digits',
      'ml',
    );
    expect(summary?.phase).toBe('Succeeded');
    expect(
      readTerminationSummary(
        [pod('a', terminationSummaryText(first), 1), pod('b', terminationSummaryText(second), 1)],
        'digits',
        'ml',
      ).summary?.error?.message,
    ).toBe('second');
  });
});

describe('status from the terminated pod', () => {
  const ij = parseInferenceJob({
    apiVersion: 'kinfer.dev/v1alpha1',
    kind: 'InferenceJob',
    metadata: { name: 'digits', namespace: 'ml', uid: 'u-1', generation: 1 },
    spec: { modelDeploymentRef: { name: 'mnist' }, input: { dataset: 'mnist-test', limit: 100 } },
  }) as ParsedInferenceJob;
  const model = { found: true as const, ready: true, reason: 'Ready', message: '', infer: 'http://m/infer' };
  const jobWith = (type: string, reason?: string): V1Job => ({
    metadata: { name: 'digits', creationTimestamp: new Date('2026-11-21T23:59:00Z') },
    status: {
      startTime: new Date('2026-11-21T23:59:01Z'),
      completionTime: new Date('2026-11-21T23:59:35Z'),
      conditions: [
        {
          type,
          status: 'True',
          ...(reason ? { reason } : {}),
          lastTransitionTime: new Date('2026-11-21T23:59:35Z'),
        },
      ],
    },
  });
  const unreachable = { reachable: false as const, reason: 'ECONNREFUSED' };
  const summaryOf = (snapshot: JobSnapshot) =>
    readTerminationSummary([pod('p', terminationSummaryText(snapshot))], 'digits', 'ml').summary;

  it('a Job that completed before the runner was read: Succeeded with the result and progress', () => {
    const status = computeStatus(
      ij,
      { model, job: jobWith('Complete'), runner: unreachable, terminated: summaryOf(succeeded) },
      now,
    );
    expect(status.phase).toBe('Succeeded');
    expect(status.result).toEqual({
      classCounts: succeeded.result!.classCounts,
      accuracy: 0.99,
      imagesPerSecond: 1234.5678,
      latencyMs: { p50: 4.25, p99: 9.5 },
    });
    expect(status.progress).toEqual({ processed: 100, total: 100, percent: 100 });
    expect(status.conditions?.find((c) => c.type === 'Succeeded')).toMatchObject({
      status: 'True',
      reason: 'Completed',
      message: 'classified 100 images, accuracy 99.00%',
    });
    expect(status.completionTime).toBe('2026-11-21T23:59:03Z');
    expect(status.startTime).toBe('2026-11-21T23:59:02Z');
  });

  it('a failed Job: the runner error code as the reason', () => {
    const status = computeStatus(
      ij,
      {
        model,
        job: jobWith('Failed', 'BackoffLimitExceeded'),
        runner: unreachable,
        terminated: summaryOf(failed('batch 3 failed for 120000 ms')),
      },
      now,
    );
    expect(status.phase).toBe('Failed');
    expect(status.conditions?.find((c) => c.type === 'Succeeded')).toMatchObject({
      status: 'False',
      reason: 'ModelUnavailable',
      message: 'batch 3 failed for 120000 ms',
    });
    expect(status.progress).toEqual({ processed: 64, total: 100, percent: 64 });
  });

  it('without a summary, or while the Job still runs, the message is not used', () => {
    const blind = computeStatus(ij, { model, job: jobWith('Complete'), runner: unreachable }, now);
    expect(blind.phase).toBe('Succeeded');
    expect(blind.result).toBeUndefined();
    expect(blind.conditions?.find((c) => c.type === 'Succeeded')?.message).toMatch(/not read/);
    const running: V1Job = { metadata: { name: 'digits' }, status: { active: 1 } };
    const stillRunning = computeStatus(
      ij,
      { model, job: running, runner: unreachable, terminated: summaryOf(succeeded) },
      now,
    );
    expect(stillRunning.phase).toBe('Running');
    expect(stillRunning.result).toBeUndefined();
  });

  it('the pod is told where the kubelet reads the message, and the runner to write it there', () => {
    const container = desiredJob(ij, 'http://m/infer', defaultRunnerConfig).spec!.template.spec!
      .containers[0]!;
    const env = Object.fromEntries(container.env!.map((e) => [e.name, e.value]));
    expect(container.terminationMessagePath).toBe('/dev/termination-log');
    expect(env.KINFER_TERMINATION_LOG_PATH).toBe(container.terminationMessagePath);
  });
});
