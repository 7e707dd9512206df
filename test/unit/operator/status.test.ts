import { describe, expect, it } from 'vitest';
import {
  computeStatus,
  parseTerminationMessage,
  podProblem,
} from '../../../src/operator/modeldeployment/status.ts';
import { md } from './fixtures.ts';
import { crashLoop, deployment, later, now, pod, rolledOut, rows, service, spec } from './md-scenarios.ts';

describe('computeStatus', () => {
  it.each(rows)('$what', ({ observed, ready, progressing, degraded, reconciling, stalled, message }) => {
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
  });

  it("gives kstatus Progressing's message while not Ready", () => {
    const status = computeStatus(
      md(spec),
      {
        deployment: deployment({ observedGeneration: 2, replicas: 2, readyReplicas: 0, updatedReplicas: 2 }),
        service,
        pods: [],
      },
      now,
    );
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
