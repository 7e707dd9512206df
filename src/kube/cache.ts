import { Informer, type InformerEvent, type InformerOptions } from './informer.ts';
import type { KubeObject } from './resources.ts';
import { splitKey } from './resources.ts';

/** The read side of an informer, over one namespace, several, or all of them. */
export interface ObjectCache<T extends KubeObject = KubeObject> {
  get(key: string): T | undefined;
  list(filter?: (object: T) => boolean): T[];
  /** See Informer.addIndex: files objects under values (idempotent by name). */
  addIndex(name: string, valuesOf: (object: T) => string[]): void;
  byIndex(name: string, value: string): T[];
  onEvent(handler: (event: InformerEvent<T>) => void): void;
  hasSynced(): boolean;
  waitForSync(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
  readonly informers: readonly Informer<T>[];
}

/**
 * One informer for all namespaces (`namespaces` undefined or empty), or one per listed namespace
 * behind a single cache, so an operator limited to some namespaces needs no cluster-wide list
 * or watch permission.
 */
export function createCache<T extends KubeObject = KubeObject>(
  options: Omit<InformerOptions, 'namespace'>,
  namespaces?: readonly string[],
): ObjectCache<T> {
  if (!namespaces?.length) {
    const informer = new Informer<T>(options);
    return Object.assign(informer, { informers: [informer] as const }) as unknown as ObjectCache<T>;
  }
  const byNamespace = new Map(
    namespaces.map((namespace) => [namespace, new Informer<T>({ ...options, namespace })]),
  );
  const informers = [...byNamespace.values()];
  return {
    informers,
    get: (key) => byNamespace.get(splitKey(key).namespace)?.get(key),
    list: (filter) => informers.flatMap((informer) => informer.list(filter)),
    addIndex: (name, valuesOf) => {
      for (const informer of informers) informer.addIndex(name, valuesOf);
    },
    byIndex: (name, value) => informers.flatMap((informer) => informer.byIndex(name, value)),
    onEvent: (handler) => {
      for (const informer of informers) informer.onEvent(handler);
    },
    hasSynced: () => informers.every((informer) => informer.hasSynced()),
    waitForSync: async () => {
      await Promise.all(informers.map((informer) => informer.waitForSync()));
    },
    start: () => {
      for (const informer of informers) informer.start();
    },
    stop: async () => {
      await Promise.all(informers.map((informer) => informer.stop()));
    },
  };
}
