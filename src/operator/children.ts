import type { ChildOutcome } from '../kube/children.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { KubeObject, ResourceType } from '../kube/resources.ts';
import type { Logger } from '../log.ts';

/**
 * A foreign object in a child's place is not watched (the child caches select kinfer's labels),
 * so its deletion raises no event: look again this often until it is gone.
 */
export const CONFLICT_RECHECK_MS = 10_000;

/** What stops a reconcile from getting its children right, as both reconcilers report it. */
export interface ChildProblem {
  reason: 'ChildConflict' | 'ApplyFailed';
  message: string;
  /** A transient failure the queue's backoff retries (after status says what went wrong). */
  retry?: unknown;
  requeueAfterMs?: number;
}

export interface EnsuredChild {
  type: ResourceType;
  name: string;
  outcome: ChildOutcome;
}

/** The first conflict or failure among the children, as a status problem. */
export function childProblem(children: readonly EnsuredChild[]): ChildProblem | undefined {
  for (const { outcome } of children) {
    if (outcome.kind === 'conflict') {
      return { reason: 'ChildConflict', message: outcome.message, requeueAfterMs: CONFLICT_RECHECK_MS };
    }
    if (outcome.kind === 'failed') {
      return {
        reason: 'ApplyFailed',
        message: outcome.message,
        ...(outcome.permanent ? {} : { retry: outcome.error }),
      };
    }
  }
  return undefined;
}

/** The child's object as the apiserver has it now, unless it is not ours. */
export const childObject = <T>(child: EnsuredChild | undefined): T | undefined =>
  child && 'object' in child.outcome ? (child.outcome.object as T) : undefined;

/** One log line per written child, and one Event per pass, e.g. "Created Deployment mnist, Service mnist". */
export function reportChildChanges(
  owner: KubeObject,
  children: readonly EnsuredChild[],
  recorder: EventRecorder,
  logger: Logger | undefined,
): void {
  for (const verb of ['created', 'updated'] as const) {
    const changed = children.filter(({ outcome }) => outcome.kind === verb);
    for (const { type, name } of changed) {
      logger?.info(
        { event: `child.${verb}`, kind: type.kind, object: `${owner.metadata.namespace}/${name}` },
        `${verb} ${type.kind}`,
      );
    }
    if (changed.length) {
      const Verb = verb === 'created' ? 'Created' : 'Updated';
      const what = changed.map(({ type, name }) => `${type.kind} ${name}`).join(', ');
      void recorder.record(owner, 'Normal', Verb, `${Verb} ${what}`);
    }
  }
}
