// The objects the GitOps judges read: for each kind, the status computeStatus writes in every
// scenario of its unit tests, and edge cases derived from them (no status, empty or null
// conditions, a condition without reason or message, long messages, stale and ahead generations).
// Pure: the same objects every run, so the testdata written from them cannot drift.
import { computeStatus as computeJobStatus } from '../../src/operator/inferencejob/status.ts';
import { computeStatus as computeModelStatus } from '../../src/operator/modeldeployment/status.ts';
import { job, now as jobNow, scenarios as jobScenarios } from '../unit/jobs/ij-scenarios.ts';
import { md } from '../unit/operator/fixtures.ts';
import { now as modelNow, rows as modelScenarios, spec } from '../unit/operator/md-scenarios.ts';

export type Kind = 'ModelDeployment' | 'InferenceJob';

export interface NamedObject {
  kind: Kind;
  /** The scenario (computeStatus) or edge case the object stands for. */
  what: string;
  object: Record<string, unknown>;
  /** An edge case: a status the operator does not write (an old operator, a hand edit, no status yet). */
  edge?: true;
}

type Status = { conditions?: Record<string, unknown>[] | null } & Record<string, unknown>;

/** The object as the apiserver would hold it: what was parsed, plus the computed status. */
function asObject(parsed: { metadata: object; spec: object }, kind: Kind, status: unknown) {
  return {
    apiVersion: 'kinfer.dev/v1alpha1',
    kind,
    metadata: { ...parsed.metadata },
    spec: parsed.spec,
    ...(status === undefined ? {} : { status }),
  } as Record<string, unknown> & { metadata: Record<string, unknown>; status?: Status };
}

/** Edge cases of one kind, from one of its computed objects (`base`, fully reconciled). */
function edgeCases(kind: Kind, base: ReturnType<typeof asObject>): NamedObject[] {
  const status = base.status as Status;
  const generation = base.metadata.generation as number;
  const conditions = status.conditions ?? [];
  const edge = (what: string, change: (object: ReturnType<typeof asObject>) => void): NamedObject => {
    const object = structuredClone(base);
    change(object);
    return { kind, what, object, edge: true };
  };
  return [
    edge('no status yet', (o) => delete o.status),
    edge('empty status', (o) => {
      o.status = {};
    }),
    edge('empty conditions', (o) => {
      o.status = { observedGeneration: generation, conditions: [] };
    }),
    edge('null conditions', (o) => {
      o.status = { observedGeneration: generation, conditions: null };
    }),
    edge('no observedGeneration', (o) => {
      delete o.status?.observedGeneration;
    }),
    edge('stale: a newer generation the operator has not seen', (o) => {
      o.metadata.generation = generation + 1;
    }),
    edge('ahead: observedGeneration above metadata.generation', (o) => {
      (o.status as Status).observedGeneration = generation + 1;
    }),
    edge('conditions without reason or message', (o) => {
      (o.status as Status).conditions = conditions.map(({ type, status: s, lastTransitionTime }) => ({
        type,
        status: s,
        lastTransitionTime,
      }));
    }),
  ];
}

export const longMessage = `${'a long message with many words '.repeat(40)}and its last words`;

export function modelDeploymentObjects(): NamedObject[] {
  const parsed = md(spec);
  const computed = modelScenarios.map(({ what, observed }) => ({
    kind: 'ModelDeployment' as const,
    what,
    object: asObject(parsed, 'ModelDeployment', computeModelStatus(parsed, observed, modelNow)),
  }));
  const ready = computed.find((c) => c.what === 'rolled out and ready');
  const apply = computed.find((c) => c.what === 'a problem of the operator itself (apply failed)');
  if (!ready || !apply)
    throw new Error('md-scenarios.ts no longer has the scenarios the edge cases start from');
  const longProblem = computeModelStatus(
    parsed,
    {
      deployment: undefined,
      service: undefined,
      pods: [],
      problem: { reason: 'ApplyFailed', message: longMessage },
    },
    modelNow,
  );
  return [
    ...computed,
    ...edgeCases('ModelDeployment', ready.object),
    {
      kind: 'ModelDeployment',
      what: 'degraded with a long message',
      object: asObject(parsed, 'ModelDeployment', longProblem),
    },
  ];
}

export function inferenceJobObjects(): NamedObject[] {
  const parsed = job();
  const computed = jobScenarios.map(({ what, observed }) => ({
    kind: 'InferenceJob' as const,
    what,
    object: asObject(parsed, 'InferenceJob', computeJobStatus(parsed, observed, jobNow)),
  }));
  const succeeded = computed.find((c) => c.what === 'succeeded with an accuracy');
  if (!succeeded) throw new Error('ij-scenarios.ts no longer has the scenario the edge cases start from');
  return [...computed, ...edgeCases('InferenceJob', succeeded.object)];
}
