import { describe, expect, it } from 'vitest';
import { ApiError, type RequestOptions } from '../../../src/kube/client.ts';
import { type Clock, LeaderElector, type Lease, type LeaseClient } from '../../../src/kube/leader.ts';

/** Virtual time: timers run only when the test advances the clock. */
class FakeClock implements Clock {
  private time = 0;
  private timers: { at: number; callback: () => void; id: number }[] = [];
  private nextId = 0;

  now(): number {
    return this.time;
  }

  after(ms: number, callback: () => void): () => void {
    const id = this.nextId++;
    this.timers.push({ at: this.time + ms, callback, id });
    return () => {
      this.timers = this.timers.filter((timer) => timer.id !== id);
    };
  }

  /** Moves time forward in steps, running due timers and letting promises settle in between. */
  async advance(ms: number, onStep?: () => void): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await settle();
      const due = this.timers
        .filter((timer) => timer.at <= end)
        .sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.time = Math.max(this.time, due.at);
      this.timers = this.timers.filter((timer) => timer !== due);
      due.callback();
      onStep?.();
    }
    this.time = end;
    await settle();
    onStep?.();
  }
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** One Lease on a fake apiserver, with optimistic concurrency like the real one. */
class FakeLeaseApi {
  lease: Lease | undefined;
  private version = 0;
  readonly log: string[] = [];

  constructor(private readonly clock: FakeClock) {}

  /** A client of this API for one replica; `frozen` makes its requests hang (a half-open connection). */
  client(who: string): LeaseClient & { frozen: boolean; delayMs: number } {
    const api = this;
    return {
      frozen: false,
      delayMs: 0,
      request<T>(method: string, _path: string, options: RequestOptions = {}): Promise<T> {
        api.log.push(`${who} ${method}`);
        return new Promise<T>((resolve, reject) => {
          const fail = () => reject(options.signal?.reason ?? new Error('aborted'));
          if (options.signal?.aborted) return fail();
          options.signal?.addEventListener('abort', fail);
          if (this.frozen) return;
          const answer = () => {
            try {
              resolve(api.handle(method, options.body as Lease | undefined) as T);
            } catch (error) {
              reject(error);
            }
          };
          if (this.delayMs > 0) api.clock.after(this.delayMs, answer);
          else answer();
        });
      },
    };
  }

  private handle(method: string, body: Lease | undefined): Lease {
    if (method === 'GET') {
      if (!this.lease) throw new ApiError(404, 'NotFound', 'leases "l" not found');
      return structuredClone(this.lease);
    }
    if (method === 'POST') {
      if (this.lease) throw new ApiError(409, 'AlreadyExists', 'leases "l" already exists');
      return this.store(body);
    }
    if (body?.metadata.resourceVersion !== this.lease?.metadata.resourceVersion)
      throw new ApiError(409, 'Conflict', 'the object has been modified');
    return this.store(body);
  }

  private store(body: Lease | undefined): Lease {
    if (!body) throw new Error('no body');
    this.lease = structuredClone({
      ...body,
      metadata: { ...body.metadata, resourceVersion: String(++this.version) },
    });
    return structuredClone(this.lease);
  }

  /** Someone else writes the lease (e.g. a leader elected while this one was cut off). */
  takeBy(holder: string): void {
    if (!this.lease) throw new Error('no lease');
    this.store({ ...this.lease, spec: { ...this.lease.spec, holderIdentity: holder } });
  }
}

const timing = { leaseDurationSeconds: 15, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

function setup() {
  const clock = new FakeClock();
  const api = new FakeLeaseApi(clock);
  const replica = (identity: string) => {
    const client = api.client(identity);
    const lost: number[] = [];
    const elector = new LeaderElector({ client, namespace: 'ns', name: 'l', identity, clock, ...timing });
    let acquiredAt: number | undefined;
    const acquired = elector
      .acquire(() => lost.push(clock.now()))
      .then((won) => {
        if (won) acquiredAt = clock.now();
        return won;
      });
    return { client, elector, lost, acquired, acquiredAt: () => acquiredAt };
  };
  return { clock, api, replica };
}

describe('LeaderElector', () => {
  it('creates the lease, then renews it every retry period', async () => {
    const { clock, api, replica } = setup();
    const a = replica('a');
    await clock.advance(0);
    expect(await a.acquired).toBe(true);
    expect(api.lease?.spec.holderIdentity).toBe('a');
    await clock.advance(10_000);
    expect(api.log.filter((line) => line === 'a PUT').length).toBe(5);
    expect(a.lost).toEqual([]);
  });

  it('a standby takes over only after the record stayed unchanged for a whole lease duration', async () => {
    const { clock, api, replica } = setup();
    const a = replica('a');
    await clock.advance(0);
    const b = replica('b');
    await clock.advance(60_000);
    expect(b.acquiredAt()).toBeUndefined();
    await a.elector.release();
    expect(api.lease?.spec.holderIdentity).toBe('');
    // A released lease is taken at the standby's next try, not after a lease duration.
    await clock.advance(3_000);
    expect(b.acquiredAt()).toBeDefined();
    expect(api.lease?.spec.holderIdentity).toBe('b');
  });

  it('bounds a renewal that hangs by the renew deadline and stops leading at that moment', async () => {
    const { clock, replica } = setup();
    const a = replica('a');
    await clock.advance(0);
    await clock.advance(4_000); // renewed at 2 s and 4 s
    a.client.frozen = true; // the renewal sent at 6 s never answers
    await clock.advance(30_000);
    // The last good renewal was sent at 4 s: the term ended at 14 s, before anyone could take over
    // (a standby that saw that renewal waits until at least 4 s + 15 s).
    expect(a.lost).toEqual([14_000]);
    expect(a.elector.isLeader).toBe(false);
  });

  it('never has two leaders when the leader’s connection freezes (fake clock, both replicas)', async () => {
    const { clock, api, replica } = setup();
    const a = replica('a');
    await clock.advance(0);
    const b = replica('b');
    await clock.advance(5_000);
    a.client.frozen = true;
    let overlap = 0;
    await clock.advance(40_000, () => {
      if (a.elector.isLeader && b.elector.isLeader) overlap++;
    });
    expect(overlap).toBe(0);
    expect(a.lost.length).toBe(1);
    expect(b.acquiredAt()).toBeGreaterThan(a.lost[0] ?? Number.POSITIVE_INFINITY);
    expect(api.lease?.spec.holderIdentity).toBe('b');
  });

  it('a 409 on renewal because another holder wrote the lease ends leadership at once', async () => {
    const { clock, api, replica } = setup();
    const a = replica('a');
    await clock.advance(2_500);
    api.takeBy('usurper');
    await clock.advance(2_000); // renewal at 4 s: 409, then a read that shows the new holder
    await clock.advance(2_000);
    expect(a.lost.length).toBe(1);
    expect(a.lost[0]).toBeLessThanOrEqual(6_000);
    expect(api.lease?.spec.holderIdentity).toBe('usurper');
  });

  it('release() waits for a renewal in flight instead of racing it into a 409', async () => {
    const { clock, api, replica } = setup();
    const a = replica('a');
    await clock.advance(0);
    a.client.delayMs = 1_000; // the renewal sent at 2 s lands at 3 s
    await clock.advance(2_500);
    const released = a.elector.release();
    await clock.advance(2_000);
    await released;
    expect(api.lease?.spec.holderIdentity).toBe('');
    expect(api.lease?.spec.leaseDurationSeconds).toBe(1);
    // The standby gets it at its first try.
    const b = replica('b');
    await clock.advance(0);
    expect(await b.acquired).toBe(true);
  });

  it('release() while the first acquisition is in flight still hands the lease back', async () => {
    const { clock, api, replica } = setup();
    const a = replica('a');
    a.client.delayMs = 500;
    await clock.advance(100);
    const released = a.elector.release();
    await clock.advance(2_000);
    await released;
    expect(await a.acquired).toBe(false);
    expect(api.lease?.spec.holderIdentity).toBe('');
  });

  it('times takeover on its own clock, whatever the holder’s timestamps say (clock skew)', async () => {
    const { clock, api, replica } = setup();
    const skewed = (renewTime: string) => {
      api.lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: 'l', namespace: 'ns', resourceVersion: String(Math.random()) },
        spec: { holderIdentity: 'far', leaseDurationSeconds: 15, renewTime },
      };
    };
    // A holder whose clock is an hour behind, still renewing: its record keeps changing.
    skewed('2000-01-01T00:00:00.000000Z');
    const b = replica('b');
    for (let second = 1; second <= 30; second++) {
      skewed(`2000-01-01T00:00:${String(second).padStart(2, '0')}.000000Z`);
      await clock.advance(1_000);
    }
    expect(b.acquiredAt()).toBeUndefined();
    // A holder whose clock is an hour ahead, gone: its record stops changing; 15 s later it is b's.
    skewed('2099-01-01T00:00:00.000000Z');
    const stoppedAt = clock.now();
    await clock.advance(20_000);
    expect(b.acquiredAt()).toBeGreaterThanOrEqual(stoppedAt + 15_000);
    expect(api.lease?.spec.holderIdentity).toBe('b');
  });

  it('refuses a renew deadline that is not shorter than the lease', () => {
    expect(
      () =>
        new LeaderElector({
          client: { request: async () => ({}) as never },
          namespace: 'ns',
          name: 'l',
          identity: 'a',
          leaseDurationSeconds: 10,
          renewDeadlineMs: 10_000,
        }),
    ).toThrow(/renewDeadlineMs/);
  });
});
