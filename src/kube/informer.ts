import type { Logger } from '../log.ts';
import { backoffDelay } from '../shared/backoff.ts';
import { describeError } from '../shared/errors.ts';
import { ApiError, isGone, type KubeClient } from './client.ts';
import { type KubeObject, keyOf, type ResourceType, resourcePath } from './resources.ts';

export type InformerEventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface InformerEvent<T> {
  type: InformerEventType;
  object: T;
  /** The cached object before a MODIFIED event. */
  old?: T;
}

export interface InformerStats {
  lists: number;
  watches: number;
  /** Why watches were restarted: `closed` (normal server timeout), `error`, `gone`, `watchdog`. */
  restarts: Record<string, number>;
}

export interface InformerOptions {
  client: KubeClient;
  type: ResourceType;
  /** Omitted: all namespaces. */
  namespace?: string | undefined;
  labelSelector?: string | undefined;
  /** Server-side field selector, e.g. `involvedObject.kind=Pod,reason=FailedMount` for Events. */
  fieldSelector?: string | undefined;
  /** Server-side watch timeout; each watch picks a value in [t, 2t) so informers do not reconnect in step. */
  watchTimeoutSeconds?: number;
  /** A watch that outlives its server timeout by this much without ending is declared deaf and restarted. */
  watchdogGraceMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  pageSize?: number;
  logger?: Logger;
  /**
   * The cache drops managedFields (the bulk of most objects) except this manager's own entries,
   * which say what it owns (how a removed field is told from one nobody set).
   */
  managedFieldsOf?: string | undefined;
  onWatchRestart?: (reason: string) => void;
  onList?: () => void;
}

class WatchGoneError extends Error {
  readonly code = 'watch_gone';
}
class WatchdogError extends Error {
  readonly code = 'watchdog';
}

/**
 * A list+watch cache of one resource type: lists (paginated), then watches from the listed
 * resourceVersion with bookmarks; on "410 Gone" it relists (emitting the difference as events);
 * after any other error it reconnects from the last seen resourceVersion with jittered
 * exponential backoff; a watchdog aborts a watch that neither ends nor errors past its server
 * timeout (a half-open TCP connection, a stuck proxy), so the cache never goes silently deaf.
 */
export class Informer<T extends KubeObject = KubeObject> {
  private readonly store = new Map<string, T>();
  /** Secondary indexes: name → (index value → keys), kept in step with the store. */
  private readonly indexes = new Map<
    string,
    { valuesOf: (object: T) => string[]; keys: Map<string, Set<string>> }
  >();
  private readonly handlers: ((event: InformerEvent<T>) => void)[] = [];
  private resourceVersion = '';
  private synced = false;
  /** The last list or watch reached the apiserver (false from a failure until the next success). */
  private reaching = false;
  private readonly syncWaiters: (() => void)[] = [];
  private stopped = false;
  private current: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  readonly stats: InformerStats = { lists: 0, watches: 0, restarts: {} };

  constructor(private readonly options: InformerOptions) {}

  get type(): ResourceType {
    return this.options.type;
  }

  onEvent(handler: (event: InformerEvent<T>) => void): void {
    this.handlers.push(handler);
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  list(filter?: (object: T) => boolean): T[] {
    const all = [...this.store.values()];
    return filter ? all.filter(filter) : all;
  }

  /**
   * Adds an index (idempotent by name): `valuesOf` gives the values an object is filed under,
   * e.g. a pod's `namespace/instance` label, so a reconcile reads its own objects instead of
   * scanning every object of the namespace.
   */
  addIndex(name: string, valuesOf: (object: T) => string[]): void {
    if (this.indexes.has(name)) return;
    const index = { valuesOf, keys: new Map<string, Set<string>>() };
    this.indexes.set(name, index);
    for (const [key, object] of this.store) this.fileUnder(index, key, object);
  }

  /** The objects filed under `value` in index `name`. */
  byIndex(name: string, value: string): T[] {
    const index = this.indexes.get(name);
    if (!index) throw new Error(`informer for ${this.options.type.plural} has no index ${name}`);
    const objects: T[] = [];
    for (const key of index.keys.get(value) ?? []) {
      const object = this.store.get(key);
      if (object) objects.push(object);
    }
    return objects;
  }

  private put(key: string, object: T): void {
    this.remove(key);
    this.store.set(key, object);
    for (const index of this.indexes.values()) this.fileUnder(index, key, object);
  }

  private remove(key: string): void {
    const old = this.store.get(key);
    if (!old) return;
    this.store.delete(key);
    for (const index of this.indexes.values()) {
      for (const value of index.valuesOf(old)) {
        const keys = index.keys.get(value);
        keys?.delete(key);
        if (keys?.size === 0) index.keys.delete(value);
      }
    }
  }

  private fileUnder(
    index: { valuesOf: (object: T) => string[]; keys: Map<string, Set<string>> },
    key: string,
    object: T,
  ): void {
    for (const value of index.valuesOf(object)) {
      const keys = index.keys.get(value);
      if (keys) keys.add(key);
      else index.keys.set(value, new Set([key]));
    }
  }

  get size(): number {
    return this.store.size;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Synced, and its list/watch currently reaches the apiserver: what operator readiness requires. */
  isConnected(): boolean {
    return this.synced && this.reaching && !this.stopped;
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.current?.abort();
    this.wake?.();
    await this.loop;
  }

  /**
   * Forces the current watch to reconnect (as the watchdog would), optionally from another
   * resourceVersion (an expired one makes the apiserver answer 410 Gone); for tests and diagnostics.
   */
  restartWatch(fromResourceVersion?: string): void {
    if (fromResourceVersion !== undefined) this.resourceVersion = fromResourceVersion;
    this.current?.abort(new WatchdogError('restart requested'));
  }

  private async run(): Promise<void> {
    const log = this.options.logger;
    const initial = this.options.backoffInitialMs ?? 500;
    const max = this.options.backoffMaxMs ?? 30_000;
    let needList = true;
    let failures = 0;
    while (!this.stopped) {
      let reason = 'closed';
      try {
        if (needList) {
          await this.relist();
          needList = false;
        }
        const { events, elapsedMs } = await this.watch();
        // A stream the server closes at once with nothing in it is treated like an error, so a
        // misbehaving server cannot make us reconnect in a tight loop.
        if (events === 0 && elapsedMs < 1000) {
          failures++;
          reason = 'empty';
          this.reaching = false;
        } else failures = 0;
      } catch (error) {
        if (this.stopped) break;
        if (error instanceof WatchGoneError || isGone(error)) {
          reason = 'gone';
          needList = true;
          failures = 0;
        } else if (error instanceof WatchdogError) {
          reason = 'watchdog';
          failures = 0;
        } else {
          reason = 'error';
          failures++;
          this.reaching = false;
          log?.warn(
            {
              event: 'informer.error',
              resource: this.options.type.plural,
              err: describeError(error),
              failures,
            },
            'list/watch failed; retrying',
          );
        }
      }
      this.stats.restarts[reason] = (this.stats.restarts[reason] ?? 0) + 1;
      this.options.onWatchRestart?.(reason);
      if (failures > 0 && !this.stopped) {
        await this.sleep(
          backoffDelay(failures - 1, { initialDelayMs: initial, maxDelayMs: max, jitter: 0.5 }),
        );
      }
    }
  }

  private async relist(): Promise<void> {
    const { client, type, namespace, labelSelector, fieldSelector } = this.options;
    const fresh = new Map<string, T>();
    let continueToken: string | undefined;
    let resourceVersion = '';
    this.stats.lists++;
    this.options.onList?.();
    do {
      const controller = new AbortController();
      this.current = controller;
      const page = await client.request<{
        metadata: { resourceVersion?: string; continue?: string };
        items: T[];
      }>('GET', resourcePath(type, { namespace }), {
        query: { labelSelector, fieldSelector, limit: this.options.pageSize ?? 500, continue: continueToken },
        signal: controller.signal,
      });
      for (const item of page.items) {
        // List items carry no apiVersion/kind; restore them so handlers see whole objects.
        const object = trim(
          { ...item, apiVersion: item.apiVersion ?? apiVersion(type), kind: type.kind },
          this.options.managedFieldsOf,
        );
        fresh.set(keyOf(object.metadata), object);
      }
      continueToken = page.metadata.continue || undefined;
      resourceVersion = page.metadata.resourceVersion ?? '';
    } while (continueToken && !this.stopped);
    // Emit the difference, so a relist after missed events tells handlers what changed.
    for (const [key, old] of this.store) {
      if (!fresh.has(key)) {
        this.remove(key);
        this.emit({ type: 'DELETED', object: old });
      }
    }
    for (const [key, object] of fresh) {
      const old = this.store.get(key);
      this.put(key, object);
      if (!old) this.emit({ type: 'ADDED', object });
      else if (old.metadata.resourceVersion !== object.metadata.resourceVersion)
        this.emit({ type: 'MODIFIED', object, old });
    }
    this.resourceVersion = resourceVersion;
    this.reaching = true;
    if (!this.synced) {
      this.synced = true;
      for (const waiter of this.syncWaiters.splice(0)) waiter();
    }
  }

  private async watch(): Promise<{ events: number; elapsedMs: number }> {
    const { client, type, namespace, labelSelector, fieldSelector } = this.options;
    const base = this.options.watchTimeoutSeconds ?? 300;
    const timeoutSeconds = Math.floor(base + Math.random() * base);
    const controller = new AbortController();
    this.current = controller;
    const watchdog = setTimeout(
      () => controller.abort(new WatchdogError(`watch outlived its ${timeoutSeconds} s timeout`)),
      timeoutSeconds * 1000 + (this.options.watchdogGraceMs ?? 30_000),
    );
    watchdog.unref?.();
    const started = performance.now();
    let events = 0;
    // An ERROR event ends the watch with this error, as it is (its status code kept), never
    // wrapped by the transport into a connection error.
    let failed: WatchGoneError | ApiError | undefined;
    this.stats.watches++;
    try {
      await client.stream(
        resourcePath(type, { namespace }),
        {
          query: {
            watch: true,
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds,
            labelSelector,
            fieldSelector,
          },
          signal: controller.signal,
          onResponse: (status) => {
            if (status < 400) this.reaching = true;
          },
        },
        (line) => {
          const { type: eventType, object } = line as { type: string; object: T & { code?: number } };
          events++;
          if (eventType === 'ERROR') {
            if (failed) return;
            const status = object as unknown as { code?: number; reason?: string; message?: string };
            failed =
              status.code === 410
                ? new WatchGoneError(status.message ?? 'resourceVersion too old')
                : new ApiError(
                    status.code ?? 500,
                    status.reason ?? 'WatchError',
                    status.message ?? 'watch error',
                  );
            controller.abort(failed);
            return;
          }
          const rv = object.metadata?.resourceVersion;
          if (rv) this.resourceVersion = rv;
          if (eventType === 'BOOKMARK') return;
          this.apply(eventType as InformerEventType, object);
        },
      );
    } catch (error) {
      if (failed) throw failed;
      if (controller.signal.aborted && controller.signal.reason instanceof WatchdogError)
        throw controller.signal.reason;
      throw error;
    } finally {
      clearTimeout(watchdog);
    }
    if (failed) throw failed;
    return { events, elapsedMs: performance.now() - started };
  }

  private apply(type: InformerEventType, raw: T): void {
    const object = trim(
      { ...raw, apiVersion: raw.apiVersion ?? apiVersion(this.options.type), kind: this.options.type.kind },
      this.options.managedFieldsOf,
    );
    const key = keyOf(object.metadata);
    if (type === 'DELETED') {
      this.remove(key);
      this.emit({ type, object });
      return;
    }
    const old = this.store.get(key);
    this.put(key, object);
    this.emit(old ? { type: 'MODIFIED', object, old } : { type: 'ADDED', object });
  }

  private emit(event: InformerEvent<T>): void {
    for (const handler of this.handlers) {
      try {
        handler(event);
      } catch (error) {
        this.options.logger?.error(
          { event: 'informer.handler_failed', err: describeError(error) },
          'event handler threw',
        );
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

const apiVersion = (type: ResourceType): string =>
  type.group ? `${type.group}/${type.version}` : type.version;

/** managedFields are the bulk of most objects; only `manager`'s own entries are kept, if asked. */
function trim<T extends KubeObject>(object: T, manager: string | undefined): T {
  const entries = object.metadata?.managedFields as { manager?: string }[] | undefined;
  if (entries === undefined) return object;
  const { managedFields: _, ...metadata } = object.metadata;
  const kept = manager ? entries.filter((entry) => entry.manager === manager) : [];
  return { ...object, metadata: kept.length ? { ...metadata, managedFields: kept } : metadata };
}
