import type { Logger } from '../log.ts';
import { describeError } from '../shared/errors.ts';
import { isConflict, isNotFound, type RequestOptions } from './client.ts';
import { Leases, resourcePath } from './resources.ts';

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}
export interface Lease {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: LeaseSpec;
}

/** The one call the elector makes (KubeClient has it); a fake in unit tests. */
export interface LeaseClient {
  request<T = unknown>(method: string, path: string, options?: RequestOptions): Promise<T>;
}

/** Time as the elector sees it: real by default, virtual in unit tests. */
export interface Clock {
  now(): number;
  /** Calls `callback` after `ms`; returns a function that cancels it. */
  after(ms: number, callback: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  after: (ms, callback) => {
    const timer = setTimeout(callback, ms);
    timer.unref?.();
    return () => clearTimeout(timer);
  },
};

export interface LeaderElectorOptions {
  client: LeaseClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  /**
   * A leader that has not renewed for this long (counted from when it sent its last successful
   * renewal) stops leading, before any standby may take over (which waits a whole lease duration
   * from when it saw that renewal). Every Lease request is aborted at this deadline too.
   */
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock?: Clock;
  logger?: Logger;
}

class DeadlineError extends Error {
  readonly code = 'lease_deadline';
}

/**
 * Leader election on a coordination.k8s.io Lease, as client-go does it: the holder renews every
 * retry period; a candidate takes the lease once it has seen the same record unchanged for a whole
 * lease duration (timed on its own clock, never trusting the holder's timestamps, so clock skew
 * between machines does not matter), or at once when the holder released it. Writes carry the
 * lease's resourceVersion, so two candidates can never both win. No Lease request outlives the
 * renew deadline (a half-open connection cannot stretch a leader's term), and the moment the
 * deadline passes without a renewal the leader calls `onLost` and stops.
 */
export class LeaderElector {
  private lease: Lease | undefined;
  private observed: { record: string; at: number } | undefined;
  private leading = false;
  private stopped = false;
  private lost = false;
  /** When the current term ends unless renewed: the send time of the last good renewal + deadline. */
  private termEnds = 0;
  private cancelTermTimer: (() => void) | undefined;
  private cancelSleep: (() => void) | undefined;
  private wake: (() => void) | undefined;
  private readonly inFlight = new Set<AbortController>();
  private renewal: Promise<unknown> | undefined;
  private onLost: () => void = () => {};
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly clock: Clock;

  constructor(private readonly options: LeaderElectorOptions) {
    this.leaseDurationMs = (options.leaseDurationSeconds ?? 15) * 1000;
    // client-go's proportions (15 s lease, 10 s renew deadline) for any lease duration.
    this.renewDeadlineMs = options.renewDeadlineMs ?? Math.round((this.leaseDurationMs * 2) / 3);
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    this.clock = options.clock ?? systemClock;
    if (this.renewDeadlineMs >= this.leaseDurationMs) {
      throw new Error(
        `renewDeadlineMs (${this.renewDeadlineMs}) must be shorter than the lease duration (${this.leaseDurationMs} ms)`,
      );
    }
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * Resolves true once this candidate leads (false if released first); afterwards keeps renewing
   * and calls `onLost` once, at once, if the lease is lost (renew deadline passed, or another
   * holder seen).
   */
  async acquire(onLost: () => void): Promise<boolean> {
    this.onLost = onLost;
    while (!this.stopped) {
      const sent = this.clock.now();
      const attempt = this.tryAcquireOrRenew(sent + this.renewDeadlineMs);
      this.renewal = attempt;
      const won = await attempt;
      this.renewal = undefined;
      if (won) {
        this.leading = true;
        this.extendTerm(sent);
        // Released while this attempt was in flight: release() (waiting on it) hands the lease back.
        if (this.stopped) return false;
        this.options.logger?.info(
          { event: 'leader.acquired', lease: this.options.name, identity: this.options.identity },
          'became leader',
        );
        void this.renewLoop();
        return true;
      }
      await this.sleep(this.retryPeriodMs * (1 + Math.random() * 0.2));
    }
    return false;
  }

  /**
   * Stops renewing and, if leading, hands the lease back so a standby takes over at once. Waits
   * for a renewal in flight first (its write would otherwise make this one conflict); a conflict
   * anyway is retried on a fresh read, as long as the lease is still ours.
   */
  async release(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.renewal;
    if (!this.leading) return;
    const deadline = this.termEnds;
    this.leading = false;
    this.endTerm();
    const { namespace, name, identity } = this.options;
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const lease =
          attempt === 0 && this.lease
            ? this.lease
            : await this.call<Lease>('GET', resourcePath(Leases, { namespace, name }), undefined, deadline);
        if (lease.spec.holderIdentity !== identity) return;
        const now = microTime(new Date());
        try {
          await this.put(
            {
              ...lease,
              spec: {
                ...lease.spec,
                holderIdentity: '',
                leaseDurationSeconds: 1,
                renewTime: now,
                acquireTime: now,
              },
            },
            deadline,
          );
          this.options.logger?.info({ event: 'leader.released', lease: name }, 'released leadership');
          return;
        } catch (error) {
          if (!isConflict(error)) throw error;
        }
      }
    } catch (error) {
      this.options.logger?.warn(
        { event: 'leader.release_failed', err: describeError(error) },
        'could not release the lease',
      );
    }
  }

  private async renewLoop(): Promise<void> {
    while (this.leading && !this.stopped) {
      await this.sleep(this.retryPeriodMs);
      if (!this.leading || this.stopped) return;
      const sent = this.clock.now();
      const attempt = this.tryAcquireOrRenew(this.termEnds);
      this.renewal = attempt;
      const renewed = await attempt;
      this.renewal = undefined;
      if (!this.leading) return;
      if (renewed) this.extendTerm(sent);
      else if (this.lease && this.lease.spec.holderIdentity !== this.options.identity) this.lose('taken');
    }
  }

  /** The term runs to `sent + renewDeadline`; at that moment, unless renewed again, leadership ends. */
  private extendTerm(sent: number): void {
    this.termEnds = sent + this.renewDeadlineMs;
    this.cancelTermTimer?.();
    this.cancelTermTimer = this.clock.after(Math.max(0, this.termEnds - this.clock.now()), () =>
      this.lose('renew deadline passed'),
    );
  }

  private endTerm(): void {
    this.cancelTermTimer?.();
    this.cancelTermTimer = undefined;
  }

  private lose(why: string): void {
    if (!this.leading || this.lost) return;
    this.lost = true;
    this.leading = false;
    this.endTerm();
    for (const controller of this.inFlight) controller.abort(new DeadlineError(`leadership lost: ${why}`));
    this.options.logger?.error({ event: 'leader.lost', lease: this.options.name, why }, 'lost leadership');
    this.onLost();
  }

  /** One attempt; every request in it is aborted at `deadline` (clock time). */
  private async tryAcquireOrRenew(deadline: number): Promise<boolean> {
    const { namespace, name, identity } = this.options;
    const now = new Date();
    try {
      // The holder renews straight from the lease it last wrote; a conflict makes it re-read.
      let lease = this.leading ? this.lease : undefined;
      if (!lease) {
        try {
          lease = await this.call<Lease>(
            'GET',
            resourcePath(Leases, { namespace, name }),
            undefined,
            deadline,
          );
        } catch (error) {
          if (!isNotFound(error)) throw error;
          this.lease = await this.call<Lease>(
            'POST',
            resourcePath(Leases, { namespace }),
            {
              apiVersion: 'coordination.k8s.io/v1',
              kind: 'Lease',
              metadata: { name, namespace },
              spec: this.spec(now, now, 0),
            },
            deadline,
          );
          return true;
        }
      }
      // Any write changes the resourceVersion, even one within the same millisecond of renewTime.
      const record = JSON.stringify([
        lease.metadata.resourceVersion,
        lease.spec.holderIdentity,
        lease.spec.renewTime,
        lease.spec.leaseDurationSeconds,
      ]);
      if (this.observed?.record !== record) this.observed = { record, at: this.clock.now() };
      const holder = lease.spec.holderIdentity;
      const duration = (lease.spec.leaseDurationSeconds ?? this.leaseDurationMs / 1000) * 1000;
      if (holder && holder !== identity && this.clock.now() < this.observed.at + duration) {
        this.lease = lease;
        return false;
      }
      const mine = holder === identity;
      const acquireTime = mine && lease.spec.acquireTime ? new Date(lease.spec.acquireTime) : now;
      const transitions = (lease.spec.leaseTransitions ?? 0) + (mine ? 0 : 1);
      this.lease = await this.put({ ...lease, spec: this.spec(now, acquireTime, transitions) }, deadline);
      return true;
    } catch (error) {
      // A conflict means someone else wrote the lease: read it again next time (and see who holds it).
      this.lease = undefined;
      if (!isConflict(error))
        this.options.logger?.warn(
          { event: 'leader.renew_failed', err: describeError(error), leading: this.leading },
          'lease request failed',
        );
      return false;
    }
  }

  private spec(now: Date, acquired: Date, transitions: number): LeaseSpec {
    return {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: this.leaseDurationMs / 1000,
      acquireTime: microTime(acquired),
      renewTime: microTime(now),
      leaseTransitions: transitions,
    };
  }

  private put(lease: Lease, deadline: number): Promise<Lease> {
    const { namespace, name } = this.options;
    return this.call<Lease>('PUT', resourcePath(Leases, { namespace, name }), lease, deadline);
  }

  /** A Lease request aborted at `deadline` (clock time) if it has not answered by then. */
  private async call<T>(method: string, path: string, body: unknown, deadline: number): Promise<T> {
    const remaining = deadline - this.clock.now();
    if (remaining <= 0) throw new DeadlineError(`${method} ${path}: no time left before the renew deadline`);
    const controller = new AbortController();
    this.inFlight.add(controller);
    const cancel = this.clock.after(remaining, () =>
      controller.abort(new DeadlineError(`${method} ${path}: no answer within ${Math.round(remaining)} ms`)),
    );
    try {
      return await this.options.client.request<T>(method, path, {
        ...(body !== undefined ? { body } : {}),
        signal: controller.signal,
      });
    } catch (error) {
      throw controller.signal.aborted ? controller.signal.reason : error;
    } finally {
      cancel();
      this.inFlight.delete(controller);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.cancelSleep?.();
        this.wake = undefined;
        resolve();
      };
      this.cancelSleep = this.clock.after(ms, done);
      this.wake = done;
    });
  }
}

/** metav1.MicroTime. */
const microTime = (date: Date): string => `${date.toISOString().slice(0, 23)}000Z`;
