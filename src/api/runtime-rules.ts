import {
  JSON_BYTES_PER_UNIT,
  type LimitSettings,
  largestPreprocessCost,
  largestRequestCostTerms,
  type TimeoutSettings,
} from './runtime-limits.ts';

/**
 * A rule between runtime settings, written once with its two spellings: a TypeScript check (the
 * runtime refuses to start on a violation; the ModelDeployment's zod schema refuses it too) and
 * the same check in CEL (the CRD's `x-kubernetes-validations`, so the apiserver refuses it at
 * admission instead of the pods crash-looping).
 */
export interface SettingsRule<V extends Record<string, number>> {
  /** The setting an error names. */
  field: keyof V & string;
  /** What `field` must be, in words naming the other settings: `at least maxV2Batch`. */
  requirement: string;
  /** Why, for the error message. */
  reason: string;
  check: (values: V) => boolean;
  /** The check in CEL, given the CEL expression of each setting's value. */
  cel: (value: (key: keyof V & string) => string) => string;
  /** The bound for these values, e.g. `1024`, shown in the runtime's message. */
  bound: (values: V) => number;
}

export const limitsRules: SettingsRule<LimitSettings>[] = [
  {
    field: 'queueLimit',
    requirement: 'at least maxV2Batch',
    reason: 'the largest request must fit in the queue',
    check: (v) => v.queueLimit >= v.maxV2Batch,
    cel: (v) => `${v('queueLimit')} >= ${v('maxV2Batch')}`,
    bound: (v) => v.maxV2Batch,
  },
  {
    field: 'preprocessQueueLimit',
    requirement: `at least ${largestRequestCostTerms.map(({ key, weight }) => (weight === 1 ? key : `${weight} × ${key}`)).join(' + ')}`,
    reason: 'the preprocessing cost of the largest request the limits allow must fit in the queue',
    check: (v) => v.preprocessQueueLimit >= largestPreprocessCost(v),
    cel: (v) =>
      `${v('preprocessQueueLimit')} >= ${largestRequestCostTerms.map(({ key, weight }) => (weight === 1 ? v(key) : `${v(key)} * ${weight}`)).join(' + ')}`,
    bound: largestPreprocessCost,
  },
  {
    field: 'preprocessQueueLimit',
    requirement: `at least bodyLimit / ${JSON_BYTES_PER_UNIT}`,
    reason:
      'parsing the largest JSON body bodyLimit allows (on the preprocessing threads) must fit in the queue',
    check: (v) => v.preprocessQueueLimit * JSON_BYTES_PER_UNIT >= v.bodyLimit,
    cel: (v) => `${v('preprocessQueueLimit')} * ${JSON_BYTES_PER_UNIT} >= ${v('bodyLimit')}`,
    bound: (v) => Math.ceil(v.bodyLimit / JSON_BYTES_PER_UNIT),
  },
];

export const timeoutsRules: SettingsRule<TimeoutSettings>[] = [
  {
    field: 'headersTimeoutMs',
    requirement: 'at most requestTimeoutMs',
    reason: 'the headers are part of the request',
    check: (v) => v.headersTimeoutMs <= v.requestTimeoutMs,
    cel: (v) => `${v('headersTimeoutMs')} <= ${v('requestTimeoutMs')}`,
    bound: (v) => v.requestTimeoutMs,
  },
];

/** The runtime's message for a violated rule (prefixed with the setting's source by the caller). */
export const runtimeRuleMessage = <V extends Record<string, number>>(
  rule: SettingsRule<V>,
  values: V,
): string => `must be ${rule.requirement} (${rule.bound(values)} here): ${rule.reason}`;
