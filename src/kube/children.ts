import { describeError } from '../shared/errors.ts';
import { applyObject, FIELD_MANAGER } from './apply.ts';
import { ApiError, isConflict, isNotFound, type KubeClient } from './client.ts';
import { needsApply } from './drift.ts';
import { controllerOf, type KubeObject, type ResourceType, resourcePath } from './resources.ts';

/** What ensuring one child came to; a reconciler turns the last two into a condition. */
export type ChildOutcome =
  | { kind: 'unchanged' | 'created' | 'updated'; object: KubeObject }
  /** An object of that name exists and another controller (or none) owns it: nothing was written. */
  | { kind: 'conflict'; message: string }
  /** A write or read failed; `permanent` (a write's 400, 403, 422) means retrying cannot help until the spec changes. */
  | { kind: 'failed'; message: string; error: unknown; permanent: boolean };

export interface EnsureChild {
  client: KubeClient;
  type: ResourceType;
  /** The object the child belongs to (its controller owner reference points at it). */
  owner: KubeObject;
  desired: KubeObject;
  /**
   * The child from a label-selected cache, if there. The cache cannot see an object of the same
   * name that lacks the labels, so a miss is never taken to mean the name is free: the create
   * is one that fails when anything of that name exists.
   */
  cached?: KubeObject | undefined;
  fieldManager?: string;
}

/**
 * A resourceVersion no live object has (etcd revisions of written objects start above 1). Sent
 * with a server-side apply it is a precondition: the apiserver creates the object when the name
 * is free (the precondition has nothing to hold against) and answers 409 when an object exists,
 * writing nothing to it. Unlike a POST, the created object's fields are owned by the manager's
 * Apply entry, so a field later dropped from the desired object is removed by the next apply (a
 * POST leaves them owned by an Update entry, which a later apply never removes: measured on
 * kube-apiserver 1.33). A uid precondition cannot do this: the apiserver refuses it on create.
 */
const CREATE_ONLY_RESOURCE_VERSION = '1';

/**
 * Creates or updates one child by server-side apply, never writing to an object this owner does
 * not control, and writing nothing when the apply would change nothing (see `needsApply`).
 * A child missing from the cache is created in one request that fails if the name is taken;
 * only then is the object read and its controller checked. A child known to be ours is applied
 * with `force` (edits by hand to fields we own are reverted).
 */
export async function ensureChild(options: EnsureChild): Promise<ChildOutcome> {
  const { client, type, owner, desired } = options;
  const fieldManager = options.fieldManager ?? FIELD_MANAGER;
  const name = desired.metadata.name ?? '';
  let observed = options.cached;
  if (!observed) {
    try {
      const createOnly = {
        ...desired,
        metadata: { ...desired.metadata, resourceVersion: CREATE_ONLY_RESOURCE_VERSION },
      };
      return {
        kind: 'created',
        object: await applyObject(client, type, createOnly, { fieldManager, force: false }),
      };
    } catch (error) {
      if (!isConflict(error)) return childFailure(type, name, 'create', error);
    }
    // The name is taken (by us, not yet in the cache, or by someone else): look at it.
    try {
      observed = await readChild(client, type, desired.metadata.namespace, name);
    } catch (error) {
      return childFailure(type, name, 'read', error);
    }
    // Deleted in between: the next pass creates it.
    if (!observed) return childFailure(type, name, 'read', new Error('deleted while being created'));
  }
  const conflict = foreignChild(type, owner, observed);
  if (conflict) return conflict;
  if (!needsApply(desired, observed, fieldManager)) return { kind: 'unchanged', object: observed };
  try {
    const object = await applyObject(client, type, desired, { fieldManager, force: true });
    return { kind: 'updated', object };
  } catch (error) {
    return childFailure(type, name, 'apply', error);
  }
}

/** The conflict an existing object is when `owner` does not control it, undefined when it does. */
export function foreignChild(
  type: ResourceType,
  owner: KubeObject,
  observed: KubeObject,
): Extract<ChildOutcome, { kind: 'conflict' }> | undefined {
  const controller = controllerOf(observed.metadata);
  if (controller?.uid === owner.metadata.uid) return undefined;
  return {
    kind: 'conflict',
    message: `${type.kind} ${observed.metadata.name} exists and is not controlled by this ${owner.kind} (controller: ${
      controller ? `${controller.kind}/${controller.name}` : 'none'
    })`,
  };
}

/** One object by name from the apiserver, undefined when there is none. */
export async function readChild(
  client: KubeClient,
  type: ResourceType,
  namespace: string | undefined,
  name: string,
): Promise<KubeObject | undefined> {
  try {
    return await client.request<KubeObject>('GET', resourcePath(type, { namespace, name }));
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** What ensuring a child was doing when it failed: a write of the desired object, or a read. */
export type ChildVerb = 'create' | 'apply' | 'read';

/**
 * A failed step of ensuring a child, as an outcome. Only a write can fail permanently: a 400,
 * 403 or 422 answer to the desired object means retrying cannot help until the spec changes. A
 * read never depends on the spec, so it is always retried with backoff: a 403 on a GET is missing
 * RBAC, fixed outside the object, and no watch event would bring the object back to the queue.
 */
export function childFailure(
  type: ResourceType,
  name: string,
  verb: ChildVerb,
  error: unknown,
): ChildOutcome {
  const permanent =
    verb !== 'read' && error instanceof ApiError && [400, 403, 422].includes(error.statusCode);
  return {
    kind: 'failed',
    message: `${verb} ${type.kind} ${name}: ${describeError(error)}`,
    error,
    permanent,
  };
}
