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
