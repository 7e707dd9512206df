import { isDeepStrictEqual } from 'node:util';
import { applyStatus } from '../kube/apply.ts';
import { isNotFound, type KubeClient } from '../kube/client.ts';
import { type Condition, type ConditionTransition, conditionTransitions } from '../kube/conditions.ts';
import type { EventRecorder, EventType } from '../kube/events.ts';
import type { KubeObject, ResourceType } from '../kube/resources.ts';

/** The Event a condition transition deserves, if any: each kind has its own pure table. */
export type TransitionEvent = (
  transition: ConditionTransition,
) => { type: EventType; reason: string } | undefined;

/** Equal as the apiserver would store them: fields set to undefined and key order do not count. */
export const sameStatus = (before: unknown, after: unknown): boolean =>
  isDeepStrictEqual(JSON.parse(JSON.stringify(before ?? {})), JSON.parse(JSON.stringify(after ?? {})));

/**
 * The last step of both reconcilers: writes `status` through the status subresource when it
 * differs from what the object carries, then records an Event for each condition transition
 * `eventFor` finds newsworthy. Returns whether it wrote; an object deleted meanwhile is not an
 * error (nothing is left to report on).
 */
export async function writeStatus(
  deps: { client: KubeClient; recorder: EventRecorder },
  type: ResourceType,
  object: KubeObject & { apiVersion: string; kind: string },
  status: { conditions?: unknown[] },
  eventFor: TransitionEvent,
): Promise<boolean> {
  const before = object.status as { conditions?: Condition[] } | undefined;
  if (sameStatus(before, status)) return false;
  try {
    await applyStatus(deps.client, type, {
      apiVersion: object.apiVersion,
      kind: object.kind,
      metadata: { name: object.metadata.name ?? '', namespace: object.metadata.namespace ?? '' },
      status,
    });
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
  for (const transition of conditionTransitions(
    before?.conditions,
    (status.conditions ?? []) as Condition[],
  )) {
    const event = eventFor(transition);
    if (event) void deps.recorder.record(object, event.type, event.reason, transition.to.message);
  }
  return true;
}
