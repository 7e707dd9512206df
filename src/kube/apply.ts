import type { KubeClient } from './client.ts';
import { type KubeObject, type ResourceType, resourcePath } from './resources.ts';

export const FIELD_MANAGER = 'kinfer-operator';
/** Status has its own manager, so spec and status ownership never contend. */
export const STATUS_FIELD_MANAGER = 'kinfer-operator-status';
const APPLY = 'application/apply-patch+yaml';

/**
 * Server-side apply of a whole desired object (JSON is YAML, so the apply content type takes it).
 * `force` takes over fields another manager set (e.g. someone's `kubectl edit`), which is how
 * children edited by hand are restored.
 */
export function applyObject<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType,
  object: T,
  options: { fieldManager?: string; force?: boolean; signal?: AbortSignal } = {},
): Promise<T> {
  return client.request<T>(
    'PATCH',
    resourcePath(type, { namespace: object.metadata.namespace, name: object.metadata.name }),
    {
      body: object,
      contentType: APPLY,
      query: { fieldManager: options.fieldManager ?? FIELD_MANAGER, force: options.force ?? true },
      ...(options.signal ? { signal: options.signal } : {}),
    },
  );
}

/** Server-side apply of `status` through the status subresource. */
export function applyStatus<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType,
  object: {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string };
    status: unknown;
  },
  options: { fieldManager?: string; signal?: AbortSignal } = {},
): Promise<T> {
  return client.request<T>(
    'PATCH',
    resourcePath(type, {
      namespace: object.metadata.namespace,
      name: object.metadata.name,
      subresource: 'status',
    }),
    {
      body: object,
      contentType: APPLY,
      query: { fieldManager: options.fieldManager ?? STATUS_FIELD_MANAGER, force: true },
      ...(options.signal ? { signal: options.signal } : {}),
    },
  );
}

/**
 * True when every field of `desired` is present in `observed` with the same value: the
 * "would apply change anything I own?" check that keeps the operator from writing when nothing
 * changed. Fields the apiserver defaults or other managers add are ignored; lists must match
 * element by element (same length and order); quantities under `resources` compare by value
 * ("0.5" equals "500m").
 */
export function isSubset(desired: unknown, observed: unknown, path: readonly string[] = []): boolean {
  if (desired === observed) return true;
  if (desired === null || desired === undefined) return observed === null || observed === undefined;
  if (Array.isArray(desired)) {
    return (
      Array.isArray(observed) &&
      desired.length === observed.length &&
      desired.every((item, index) => isSubset(item, observed[index], path))
    );
  }
  if (typeof desired === 'object') {
    if (typeof observed !== 'object' || observed === null || Array.isArray(observed)) return false;
    return Object.entries(desired as Record<string, unknown>).every(([key, value]) =>
      value === undefined
        ? true
        : isSubset(value, (observed as Record<string, unknown>)[key], [...path, key]),
    );
  }
  if (
    (path.includes('resources') || path.at(-1) === 'sizeLimit') &&
    (typeof desired === 'string' || typeof desired === 'number')
  ) {
    const a = parseQuantity(desired);
    const b =
      typeof observed === 'string' || typeof observed === 'number' ? parseQuantity(observed) : undefined;
    return a !== undefined && b !== undefined && Math.abs(a - b) <= Math.abs(a) * 1e-9;
  }
  return false;
}

const suffixes: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A Kubernetes quantity as a number ("500m" → 0.5, "1Gi" → 1073741824), undefined if malformed. */
export function parseQuantity(value: string | number): number | undefined {
  if (typeof value === 'number') return value;
  const match = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?$/.exec(value.trim());
  if (!match) return undefined;
  const [, number = '', suffix = ''] = match;
  if (/^[eE]/.test(suffix)) return Number(number + suffix);
  const factor = suffixes[suffix];
  return factor === undefined ? undefined : Number(number) * factor;
}
