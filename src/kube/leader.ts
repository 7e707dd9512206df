import type { Logger } from '../log.ts';
import { describeError } from '../shared/errors.ts';
import { isConflict, isNotFound, type KubeClient } from './client.ts';
import { Leases, resourcePath } from './resources.ts';

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}
interface Lease {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: LeaseSpec;
}

export interface LeaderElectorOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  /** A leader that cannot renew for this long steps down (before anyone else may take over). */
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  logger?: Logger;
}

/**
 * Leader election on a coordination.k8s.io Lease, as client-go does it: the holder renews every
 * retry period; a candidate takes the lease once it has seen the same record unchanged for a
 * whole lease duration (timed on its own clock, never trusting the holder's timestamps), or at
 * once when the holder released it. Writes use the lease's resourceVersion, so two candidates
 * can never both win.
 */
export class LeaderElector {
  private lease: Lease | undefined;
  private observed: { record: string; at: number } | undefined;
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private readonly leaseDurationSeconds: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;

  constructor(private readonly options: LeaderElectorOptions) {
    this.leaseDurationSeconds = options.leaseDurationSeconds ?? 15;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * Resolves once this candidate leads (or undefined if stopped first); afterwards keeps renewing
   * and calls `onLost` if a renewal deadline passes.
   */
  async acquire(onLost: () => void): Promise<boolean> {
    const log = this.options.logger;
    while (!this.stopped) {
      if (await this.tryAcquireOrRenew()) {
        this.leading = true;
        log?.info(
          { event: 'leader.acquired', lease: this.options.name, identity: this.options.identity },
          'became leader',
        );
        void this.renewLoop(onLost);
        return true;
      }
      await this.sleep(this.retryPeriodMs * (1 + Math.random() * 0.2));
    }
    return false;
  }

  /** Stops renewing and, if leading, hands the lease back so a standby takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    if (!this.leading) return;
    this.leading = false;
    const { client, namespace, name, identity } = this.options;
    try {
      // After a failed renewal the cached copy is gone; re-read it (and release only our own).
      const lease =
        this.lease ?? (await client.request<Lease>('GET', resourcePath(Leases, { namespace, name })));
      if (lease.spec.holderIdentity !== identity) return;
      const now = microTime(new Date());
      await this.put({
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: '',
          leaseDurationSeconds: 1,
          renewTime: now,
          acquireTime: now,
        },
      });
      this.options.logger?.info(
        { event: 'leader.released', lease: this.options.name },
        'released leadership',
      );
    } catch (error) {
      this.options.logger?.warn(
        { event: 'leader.release_failed', err: describeError(error) },
        'could not release the lease',
      );
    }
  }

  private async renewLoop(onLost: () => void): Promise<void> {
    let lastRenew = Date.now();
    while (!this.stopped && this.leading) {
      await this.sleep(this.retryPeriodMs);
      if (this.stopped || !this.leading) return;
      if (await this.tryAcquireOrRenew()) {
        lastRenew = Date.now();
      } else if (
        Date.now() - lastRenew > this.renewDeadlineMs ||
        (this.lease && this.lease.spec.holderIdentity !== this.options.identity)
      ) {
        this.leading = false;
        this.options.logger?.error({ event: 'leader.lost', lease: this.options.name }, 'lost leadership');
        onLost();
        return;
      }
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { client, namespace, name, identity } = this.options;
    const now = new Date();
    try {
      // The holder renews straight from the lease it last wrote; a conflict makes it re-read.
      let lease = this.leading ? this.lease : undefined;
      if (!lease) {
        try {
          lease = await client.request<Lease>('GET', resourcePath(Leases, { namespace, name }));
        } catch (error) {
          if (!isNotFound(error)) throw error;
          this.lease = await client.request<Lease>('POST', resourcePath(Leases, { namespace }), {
            body: {
              apiVersion: 'coordination.k8s.io/v1',
              kind: 'Lease',
              metadata: { name, namespace },
              spec: this.spec(now, now, 0),
            },
          });
          return true;
        }
      }
      const record = JSON.stringify([
        lease.spec.holderIdentity,
        lease.spec.renewTime,
        lease.spec.leaseDurationSeconds,
      ]);
      if (this.observed?.record !== record) this.observed = { record, at: Date.now() };
      const holder = lease.spec.holderIdentity;
      const duration = (lease.spec.leaseDurationSeconds ?? this.leaseDurationSeconds) * 1000;
      if (holder && holder !== identity && Date.now() < this.observed.at + duration) {
        this.lease = lease;
        return false;
      }
      const mine = holder === identity;
      const acquireTime = mine && lease.spec.acquireTime ? new Date(lease.spec.acquireTime) : now;
      const transitions = (lease.spec.leaseTransitions ?? 0) + (mine ? 0 : 1);
      this.lease = await this.put({ ...lease, spec: this.spec(now, acquireTime, transitions) });
      return true;
    } catch (error) {
      if (isConflict(error)) this.lease = undefined;
      else
        this.options.logger?.warn(
          { event: 'leader.renew_failed', err: describeError(error) },
          'lease update failed',
        );
      if (this.leading) this.lease = undefined;
      return false;
    }
  }

  private spec(now: Date, acquired: Date, transitions: number): LeaseSpec {
    return {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: this.leaseDurationSeconds,
      acquireTime: microTime(acquired),
      renewTime: microTime(now),
      leaseTransitions: transitions,
    };
  }

  private put(lease: Lease): Promise<Lease> {
    const { client, namespace, name } = this.options;
    return client.request<Lease>('PUT', resourcePath(Leases, { namespace, name }), { body: lease });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(this.timer);
        resolve();
      };
    });
  }
}

/** metav1.MicroTime. */
const microTime = (date: Date): string => `${date.toISOString().slice(0, 23)}000Z`;
