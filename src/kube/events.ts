import { hostname } from 'node:os';
import type { Logger } from '../log.ts';
import { describeError } from '../shared/errors.ts';
import type { KubeClient } from './client.ts';
import { Events, type KubeObject, resourcePath } from './resources.ts';

export type EventType = 'Normal' | 'Warning';

/**
 * Records core/v1 Events on objects (what `kubectl describe` shows). Best effort: a failed
 * Event is logged, never fails a reconcile. The same reason and message on the same object within
 * `dedupWindowMs` is recorded once, so a flapping condition cannot flood the namespace.
 */
export class EventRecorder {
  private readonly recent = new Map<string, number>();
  private readonly instance = hostname();

  constructor(
    private readonly client: KubeClient,
    private readonly options: { component?: string; logger?: Logger; dedupWindowMs?: number } = {},
  ) {}

  async record(object: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const { metadata } = object;
    const now = Date.now();
    const dedupKey = `${metadata.uid}\u0000${reason}\u0000${message}`;
    const window = this.options.dedupWindowMs ?? 10 * 60_000;
    const last = this.recent.get(dedupKey);
    if (last !== undefined && now - last < window) return;
    this.recent.set(dedupKey, now);
    if (this.recent.size > 10_000) this.prune(now, window);
    const component = this.options.component ?? 'kinfer-operator';
    const timestamp = `${new Date(now).toISOString().slice(0, 19)}Z`;
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {
        name: `${metadata.name}.${now.toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`,
        namespace: metadata.namespace,
      },
      involvedObject: {
        apiVersion: object.apiVersion,
        kind: object.kind,
        name: metadata.name,
        namespace: metadata.namespace,
        uid: metadata.uid,
        resourceVersion: metadata.resourceVersion,
      },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component },
      reportingComponent: component,
      reportingInstance: this.instance,
      firstTimestamp: timestamp,
      lastTimestamp: timestamp,
      count: 1,
    };
    try {
      await this.client.request('POST', resourcePath(Events, { namespace: metadata.namespace }), {
        body: event,
      });
    } catch (error) {
      this.options.logger?.warn(
        {
          event: 'event.record_failed',
          reason,
          object: `${metadata.namespace}/${metadata.name}`,
          err: describeError(error),
        },
        'could not record event',
      );
    }
  }

  private prune(now: number, window: number): void {
    for (const [key, at] of this.recent) if (now - at >= window) this.recent.delete(key);
  }
}
