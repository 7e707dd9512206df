/**
 * "Would a server-side apply of `desired` change anything?", answered without a request, so an
 * idle operator writes nothing. Two questions, both pure:
 *
 * 1. Does the live object lack a field of `desired`, or hold another value there? (`isSubset`)
 *    Fields the apiserver defaults or other managers add are not differences.
 * 2. Does the field manager own a field that `desired` no longer has? (`ownedButNotDesired`,
 *    read from the manager's `managedFields` entry.) Applying without that field is how
 *    server-side apply removes it, so a removed resources key, env entry or annotation reaches
 *    the child, while fields only another manager owns (an HPA's replicas, `kubectl annotate`)
 *    are never touched.
 */
import type { KubeObject } from './resources.ts';

type JsonObject = Record<string, unknown>;
const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A managedFields entry (metav1.ManagedFieldsEntry). */
export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsType?: string;
  fieldsV1?: JsonObject;
}

/** The fields `manager` owns through Apply on the main resource (not on /status). */
export function appliedFields(object: KubeObject, manager: string): JsonObject | undefined {
  const entries = (object.metadata.managedFields ?? []) as ManagedFieldsEntry[];
  const entry = entries.find(
    (candidate) =>
      candidate.manager === manager &&
      candidate.operation === 'Apply' &&
      !candidate.subresource &&
      candidate.fieldsType === 'FieldsV1',
  );
  return entry?.fieldsV1;
}

/**
 * True when a server-side apply of `desired` by `manager` would change `live`: a desired field is
 * missing or different, a field the manager owns is no longer desired, or the manager has never
 * applied it (no managedFields entry: nothing records what it owns).
 */
export function needsApply(desired: KubeObject, live: KubeObject, manager: string): boolean {
  const wanted = JSON.parse(JSON.stringify(desired)) as KubeObject;
  const owned = appliedFields(live, manager);
  return !owned || !isSubset(wanted, live) || ownedButNotDesired(owned, wanted);
}

/**
 * True when every field of `desired` is present in `observed` with the same value. Lists of
 * objects that all carry a `name` (containers, env, volumes, ports) match by name, as server-side
 * apply merges them, so an entry another manager added is not a difference; other lists must
 * match element by element. Quantities under `resources` and `sizeLimit` compare by value
 * ("0.5" equals "500m").
 */
export function isSubset(desired: unknown, observed: unknown, path: readonly string[] = []): boolean {
  if (desired === observed) return true;
  if (desired === null || desired === undefined) return observed === null || observed === undefined;
  if (Array.isArray(desired)) {
    if (!Array.isArray(observed)) return false;
    if (desired.length > 0 && desired.every((item) => isObject(item) && typeof item.name === 'string')) {
      return desired.every((item) => {
        const match = observed.find((candidate) => isObject(candidate) && candidate.name === item.name);
        return match !== undefined && isSubset(item, match, path);
      });
    }
    return (
      desired.length === observed.length &&
      desired.every((item, index) => isSubset(item, observed[index], path))
    );
  }
  if (isObject(desired)) {
    if (!isObject(observed)) return false;
    return Object.entries(desired).every(([key, value]) =>
      value === undefined ? true : isSubset(value, observed[key], [...path, key]),
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

/**
 * True when `owned` (a FieldsV1 set: `f:name` for a field, `k:{...}` for a list element by its
 * key, `v:...` for a set element, `i:n` for an index, `.` for the element itself) names a field
 * that `desired` does not have.
 */
export function ownedButNotDesired(owned: JsonObject, desired: unknown): boolean {
  for (const [key, children] of Object.entries(owned)) {
    if (key === '.') continue;
    const next = childOf(desired, key);
    if (next === undefined || next === null) return true;
    if (isObject(children) && Object.keys(children).length > 0 && ownedButNotDesired(children, next))
      return true;
  }
  return false;
}

function childOf(value: unknown, key: string): unknown {
  const rest = key.slice(2);
  switch (key.slice(0, 2)) {
    case 'f:':
      return isObject(value) ? value[rest] : undefined;
    case 'k:': {
      if (!Array.isArray(value)) return undefined;
      const wanted = JSON.parse(rest) as JsonObject;
      // A key field the apiserver defaulted (a port's protocol) may be absent from the desired element.
      return value.find(
        (item) =>
          isObject(item) &&
          Object.entries(wanted).every(
            ([field, v]) => item[field] === undefined || sameScalar(item[field], v),
          ),
      );
    }
    case 'v:': {
      if (!Array.isArray(value)) return undefined;
      const wanted = JSON.parse(rest) as unknown;
      return value.find((item) => JSON.stringify(item) === JSON.stringify(wanted));
    }
    case 'i:':
      return Array.isArray(value) ? value[Number(rest)] : undefined;
    default:
      return undefined;
  }
}

const sameScalar = (a: unknown, b: unknown): boolean => a === b || String(a) === String(b);

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
