// The CEL rules of spec.server.limits and .timeouts against their zod twins, on the real
// apiserver: for every rule between runtime settings (src/api/runtime-rules.ts, including any added
// later), specs with its field one below, at and one above the bound the rule computes, the other
// settings drawn at random (near their defaults, and where this rule is the one deciding), are
// admitted or refused by the apiserver (dry-run create) exactly as the zod schema admits or refuses
// them, naming the same field. A CEL rule that drifts from its TypeScript check fails here (changing
// queueLimit's >= to > in CEL alone failed three of the four cases).
import { CustomObjectsApi } from '@kubernetes/client-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ModelDeploymentSpecSchema,
  modelDeploymentResource as resource,
} from '../../../src/api/modeldeployment.ts';
import { limitsRules, type SettingsRule, timeoutsRules } from '../../../src/api/runtime-rules.ts';
import { serverSettings } from '../../../src/api/server-limits.ts';
import { testKubeConfig, useTestNamespace } from '../../support/kube.ts';

const namespace = useTestNamespace('limits-cel');

type Group = keyof typeof serverSettings;
type Setting = (typeof serverSettings.limits)[keyof typeof serverSettings.limits];

const defaults = (group: Group): Record<string, number> =>
  Object.fromEntries(
    Object.entries(serverSettings[group]).map(([key, setting]) => [key, setting.parse(undefined) as number]),
  );

/**
 * Settings of a group drawn from a fixed seed: some of them, each an integer near its default or,
 * with `wide`, anywhere in its range on a log scale (where one rule decides while the others hold).
 */
function samples(group: Group, seed: number, count: number, wide: boolean): Record<string, number>[] {
  const settings = serverSettings[group] as Record<string, Setting>;
  const value = (setting: Setting) => {
    const inner = setting.unwrap();
    const [min, max] = [inner.minValue ?? 1, inner.maxValue ?? Number.MAX_SAFE_INTEGER];
    const fallback = setting.parse(undefined) as number;
    if (!wide)
      return fc.integer({ min: Math.max(min, Math.floor(fallback / 4)), max: Math.min(max, fallback * 4) });
    return fc
      .double({ min: Math.log(min), max: Math.log(max), noNaN: true })
      .map((x) => Math.min(max, Math.max(min, Math.round(Math.exp(x)))));
  };
  const arbitrary = fc.record(
    Object.fromEntries(Object.entries(settings).map(([key, setting]) => [key, value(setting)])),
    { requiredKeys: [] },
  );
  return fc.sample(arbitrary, { seed, numRuns: count }) as Record<string, number>[];
}

const specWith = (group: Group, values: Record<string, number>) => ({
  model: { name: 'mnist-cnn', source: { builtin: 'mnist-cnn' } },
  server: { [group]: values },
});

/** The field at one below, at and one above the rule's bound for these settings (those in range). */
function aroundBound(
  group: Group,
  rule: SettingsRule<Record<string, number>>,
  sample: Record<string, number>,
) {
  const { minValue, maxValue } = (serverSettings[group] as Record<string, Setting>)[rule.field]!.unwrap();
  const bound = rule.bound({ ...defaults(group), ...sample });
  return [bound - 1, bound, bound + 1]
    .filter((value) => value >= (minValue ?? -Infinity) && value <= (maxValue ?? Infinity))
    .map((value) => ({ ...sample, [rule.field]: value }));
}

/** Whether this rule alone decides the field around its bound: zod admits one side and refuses the other. */
const decisive = (group: Group, rule: SettingsRule<Record<string, number>>, sample: Record<string, number>) =>
  new Set(
    aroundBound(group, rule, sample).map(
      (values) => ModelDeploymentSpecSchema.safeParse(specWith(group, values)).success,
    ),
  ).size === 2;

/** The apiserver's verdict on a ModelDeployment with these settings: undefined when admitted, else its message. */
async function apiserverRefusal(group: Group, values: Record<string, number>): Promise<string | undefined> {
  const api = testKubeConfig().makeApiClient(CustomObjectsApi);
  try {
    await api.createNamespacedCustomObject({
      group: resource.group,
      version: resource.version,
      namespace: namespace(),
      plural: resource.plural,
      dryRun: 'All',
      body: {
        apiVersion: resource.apiVersion,
        kind: resource.kind,
        metadata: { name: 'rules' },
        spec: specWith(group, values),
      },
    });
    return undefined;
  } catch (error) {
    const { code, body } = error as { code?: number; body?: string };
    if (code !== 422) throw error;
    return String(body);
  }
}

const cases = [
  ...limitsRules.map((rule, index) => ({
    group: 'limits' as const,
    rule,
    index,
    name: `${rule.field} ${rule.requirement}`,
  })),
  ...timeoutsRules.map((rule, index) => ({
    group: 'timeouts' as const,
    rule,
    index,
    name: `${rule.field} ${rule.requirement}`,
  })),
];

describe('CEL rules between runtime settings, on the apiserver, against their zod twins', () => {
  it.each(cases)('$group: $name', async ({ group, rule, index }) => {
    const typed = rule as SettingsRule<Record<string, number>>;
    // Two draws near the defaults, and two where this rule is the one deciding (found with zod).
    const chosen = [
      ...samples(group, 1000 + index, 2, false),
      ...samples(group, 2000 + index, 2000, true)
        .filter((sample) => decisive(group, typed, sample))
        .slice(0, 2),
    ];
    expect(chosen.length, 'no draw where this rule alone decides').toBe(4);
    let refused = 0;
    let admitted = 0;
    for (const values of chosen.flatMap((sample) => aroundBound(group, typed, sample))) {
      const zod = ModelDeploymentSpecSchema.safeParse(specWith(group, values));
      const refusal = await apiserverRefusal(group, values);
      const what = `${JSON.stringify(values)}: ${refusal ?? 'admitted'}`;
      expect(refusal === undefined, what).toBe(zod.success);
      if (refusal === undefined) {
        admitted++;
        continue;
      }
      refused++;
      for (const issue of zod.error?.issues ?? [])
        expect(refusal, what).toContain(`spec.${issue.path.join('.')}`);
    }
    expect(refused).toBeGreaterThan(0);
    expect(admitted).toBeGreaterThan(0);
  });
});
