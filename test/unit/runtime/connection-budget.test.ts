import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ConnectionBudget } from '../../../src/runtime/http/connection-limit.ts';

/** A socket as the budget sees it: closes once, may already be destroyed. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  close(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

describe('ConnectionBudget', () => {
  it('admits up to max sockets, each once, and frees a slot when its socket closes', () => {
    const budget = new ConnectionBudget(2);
    const [a, b, c] = [new FakeSocket(), new FakeSocket(), new FakeSocket()];
    expect(budget.admit(a)).toBe(true);
    expect(budget.admit(a)).toBe(true); // a keep-alive connection's next request, or its upgrade
    expect(budget.admit(b)).toBe(true);
    expect(budget.open).toBe(2);
    expect(budget.admit(c)).toBe(false);
    a.close();
    expect(budget.open).toBe(1);
    expect(budget.admit(c)).toBe(true);
    expect(budget.admit(new FakeSocket())).toBe(false);
  });

  it('never admits a socket that is already gone (its close would never free the slot)', () => {
    const budget = new ConnectionBudget(1);
    const gone = new FakeSocket();
    gone.destroyed = true;
    expect(budget.admit(gone)).toBe(false);
    expect(budget.open).toBe(0);
  });
});
