import { describe, expect, it } from 'vitest';
import { PendingFrameBudget } from '../../../src/runtime/ws/pending-frames.ts';

describe('PendingFrameBudget', () => {
  it('counts bytes until a message completes, and names the largest holder once over the budget', () => {
    const budget = new PendingFrameBudget<string>(100);
    expect(budget.received('a', 40)).toBeUndefined();
    expect(budget.received('b', 30)).toBeUndefined();
    budget.settled('b'); // b finished its message
    expect(budget.total).toBe(40);
    expect(budget.received('b', 50)).toBeUndefined();
    expect(budget.received('c', 20)).toBe('b'); // 110 > 100: b holds the most (50)
    budget.remove('b');
    expect(budget.total).toBe(60);
    expect(budget.received('c', 40)).toBeUndefined();
  });
});
