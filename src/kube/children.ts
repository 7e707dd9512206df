import { describeError } from '../shared/errors.ts';
import { applyObject, FIELD_MANAGER } from './apply.ts';
import { ApiError, isNotFound, type KubeClient } from './client.ts';
import { needsApply } from './drift.ts';
import { controllerOf, type KubeObject, type ResourceType, resourcePath } from './resources.ts';

/** What ensuring one child came to; a reconciler turns the last two into a condition. */
export type ChildOutcome =
  | { kind: 'unchanged' | 'created' | 'updated'; object: KubeObject }
  /** An object of that name exists and another controller (or none) owns it: nothing was written. */
  | { kind: 'conflict'; message: string }
  /** The apply failed; `permanent` (400, 403, 422) means retrying cannot help until the spec changes. */
  | { kind: 'failed'; message: string; error: unknown; permanent: boolean };

export interface EnsureChild {
  client: KubeClient;
  type: ResourceType;
  /** The object the child belongs to (its controller owner reference points at it). */
  owner: KubeObject;
  desired: KubeObject;
  /**
   * The child from a label-selected cache, if there. The cache cannot see an object of the same
   * name that lacks the labels, so a miss is checked against the apiserver before anything is
   * created.
   */
  cached?: KubeObject | undefined;
  fieldManager?: string;
}

/**
 * Creates or updates one child by server-side apply, never taking over an object this owner does
 * not control, and writing nothing when the apply would change nothing (see `needsApply`).
 * A child known to be ours is applied with `force` (edits by hand to fields we own are reverted);
 * a create is not forced, so an object someone made meanwhile conflicts instead of being taken.
 */
export async function ensureChild(options: EnsureChild): Promise<ChildOutcome> {
  const { client, type, owner, desired } = options;
  const fieldManager = options.fieldManager ?? FIELD_MANAGER;
  const name = desired.metadata.name ?? '';
  const namespace = desired.metadata.namespace;
  let observed = options.cached;
  try {
    observed ??= await client.request<KubeObject>('GET', resourcePath(type, { namespace, name }));
  } catch (error) {
    if (!isNotFound(error)) return failed(type, name, 'read', error);
  }
  if (observed) {
    const controller = controllerOf(observed.metadata);
    if (controller?.uid !== owner.metadata.uid) {
      return {
        kind: 'conflict',
        message: `${type.kind} ${name} exists and is not controlled by this ${owner.kind} (controller: ${
          controller ? `${controller.kind}/${controller.name}` : 'none'
        })`,
      };
    }
    if (!needsApply(desired, observed, fieldManager)) return { kind: 'unchanged', object: observed };
  }
  try {
    const object = await applyObject(client, type, desired, { fieldManager, force: observed !== undefined });
    return { kind: observed ? 'updated' : 'created', object };
  } catch (error) {
    return failed(type, name, 'apply', error);
  }
}

function failed(type: ResourceType, name: string, verb: string, error: unknown): ChildOutcome {
  const permanent = error instanceof ApiError && [400, 403, 422].includes(error.statusCode);
  return {
    kind: 'failed',
    message: `${verb} ${type.kind} ${name}: ${describeError(error)}`,
    error,
    permanent,
  };
}
