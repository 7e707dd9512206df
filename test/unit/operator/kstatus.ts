/**
 * How kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status) reads a custom resource, restated from
 * its documented generic rules so the unit tests can check what kstatus-based tools (Flux,
 * kpt, `cli-utils` apply) will conclude from a computed status:
 * - metadata.deletionTimestamp set → Terminating;
 * - status.observedGeneration present and ≠ metadata.generation → InProgress;
 * - the first of the conditions `Reconciling` or `Stalled` with status True, in list order:
 *   Reconciling → InProgress, Stalled → Failed;
 * - otherwise the Ready condition, if any: True → Current, False or Unknown → InProgress;
 * - otherwise (no kind-specific rules for custom resources) → Current.
 * The real status.Compute judges every testdata object in test/unit/gitops; this copy serves the
 * status tables that have no Go toolchain behind them.
 */
export type KStatus = 'InProgress' | 'Current' | 'Failed' | 'Terminating';

interface Readable {
  metadata: { generation?: number | undefined; deletionTimestamp?: unknown };
  status?: { observedGeneration?: number | undefined; conditions?: { type: string; status: string }[] };
}

export function kstatusOf(object: Readable): KStatus {
  if (object.metadata.deletionTimestamp) return 'Terminating';
  const observed = object.status?.observedGeneration;
  if (
    object.metadata.generation !== undefined &&
    observed !== undefined &&
    observed !== object.metadata.generation
  )
    return 'InProgress';
  for (const condition of object.status?.conditions ?? []) {
    if (condition.status !== 'True') continue;
    if (condition.type === 'Reconciling') return 'InProgress';
    if (condition.type === 'Stalled') return 'Failed';
  }
  const ready = object.status?.conditions?.find((condition) => condition.type === 'Ready');
  if (ready) return ready.status === 'True' ? 'Current' : 'InProgress';
  return 'Current';
}
