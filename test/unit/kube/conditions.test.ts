import { describe, expect, it } from 'vitest';
import { conditionTransitions, setCondition } from '../../../src/kube/conditions.ts';

const t0 = new Date('2026-01-01T00:00:00.123Z');
const t1 = new Date('2026-01-01T00:05:00Z');

describe('setCondition', () => {
  it('adds a condition with a second-precision transition time', () => {
    const list = setCondition(
      undefined,
      { type: 'Ready', status: 'Unknown', reason: 'Reconciling', message: '' },
      t0,
    );
    expect(list).toEqual([
      {
        type: 'Ready',
        status: 'Unknown',
        reason: 'Reconciling',
        message: '',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ]);
  });

  it('keeps lastTransitionTime when the status stays, even if reason and message change', () => {
    const before = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'A', message: 'a' }, t0);
    const after = setCondition(
      before,
      { type: 'Ready', status: 'False', reason: 'B', message: 'b', observedGeneration: 2 },
      t1,
    );
    expect(after[0]).toMatchObject({
      reason: 'B',
      message: 'b',
      observedGeneration: 2,
      lastTransitionTime: '2026-01-01T00:00:00Z',
    });
    expect(before[0]!.reason).toBe('A');
  });

  it('moves lastTransitionTime when the status changes and keeps the order of others', () => {
    let list = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'A', message: '' }, t0);
    list = setCondition(list, { type: 'Degraded', status: 'False', reason: 'A', message: '' }, t0);
    list = setCondition(list, { type: 'Ready', status: 'True', reason: 'B', message: '' }, t1);
    expect(list.map((c) => [c.type, c.status, c.lastTransitionTime])).toEqual([
      ['Ready', 'True', '2026-01-01T00:05:00Z'],
      ['Degraded', 'False', '2026-01-01T00:00:00Z'],
    ]);
  });
});

describe('conditionTransitions', () => {
  it('lists new conditions and changes of status or reason only', () => {
    const before = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'A', message: 'x' }, t0);
    const same = setCondition(before, { type: 'Ready', status: 'False', reason: 'A', message: 'y' }, t1);
    expect(conditionTransitions(before, same)).toEqual([]);
    const changed = setCondition(same, { type: 'Ready', status: 'True', reason: 'B', message: '' }, t1);
    expect(conditionTransitions(before, changed).map((t) => [t.type, t.from, t.to.status])).toEqual([
      ['Ready', 'False', 'True'],
    ]);
    expect(conditionTransitions(undefined, before).map((t) => t.from)).toEqual([undefined]);
  });
});
