/** metav1.Condition, as both kinds carry it in status.conditions. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export type ConditionUpdate = Omit<Condition, 'lastTransitionTime'>;

export const findCondition = (
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined => conditions?.find((condition) => condition.type === type);

export const isConditionTrue = (conditions: readonly Condition[] | undefined, type: string): boolean =>
  findCondition(conditions, type)?.status === 'True';

/**
 * Returns a new list with `update` set: `lastTransitionTime` moves to `now` only when the status
 * changes (a new reason or message alone is not a transition), other conditions keep their order.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  update: ConditionUpdate,
  now: Date,
): Condition[] {
  const list = [...(conditions ?? [])];
  const index = list.findIndex((condition) => condition.type === update.type);
  const existing = index >= 0 ? list[index] : undefined;
  const lastTransitionTime =
    existing && existing.status === update.status ? existing.lastTransitionTime : rfc3339(now);
  const next: Condition = { ...update, lastTransitionTime };
  if (next.observedGeneration === undefined) delete next.observedGeneration;
  if (index >= 0) list[index] = next;
  else list.push(next);
  return list;
}

/** A condition whose status changed between two lists (for Events). */
export interface ConditionTransition {
  type: string;
  from: Condition['status'] | undefined;
  to: Condition;
}

export function conditionTransitions(
  before: readonly Condition[] | undefined,
  after: readonly Condition[],
): ConditionTransition[] {
  const transitions: ConditionTransition[] = [];
  for (const condition of after) {
    const previous = findCondition(before, condition.type);
    if (previous?.status !== condition.status || previous.reason !== condition.reason) {
      transitions.push({ type: condition.type, from: previous?.status, to: condition });
    }
  }
  return transitions;
}

/** metav1.Time: RFC 3339 with second precision, as the apiserver stores it. */
export const rfc3339 = (date: Date): string => `${date.toISOString().slice(0, 19)}Z`;
