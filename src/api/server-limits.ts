import { z } from 'zod';
import { envName, flagName } from '../shared/options.ts';
import { type CelRule, withRules } from './common.ts';
import { limitsConfigShape, timeoutsConfigShape } from './runtime-limits.ts';
import { limitsRules, type SettingsRule, timeoutsRules } from './runtime-rules.ts';
import { wsLimitsConfigShape, wsTimeoutsConfigShape } from './ws-settings.ts';

// `spec.server.limits` and `spec.server.timeouts`, derived from the runtime's own settings
// (src/api/runtime-limits.ts, src/api/ws-settings.ts): same keys, same bounds, the runtime's
// default when omitted. Nothing here restates a bound, a default or a description.

/** The runtime settings a ModelDeployment exposes, by `spec.server` field. */
export const serverSettings = {
  limits: { ...limitsConfigShape, ...wsLimitsConfigShape },
  timeouts: { ...timeoutsConfigShape, ...wsTimeoutsConfigShape },
};

type RuntimeSetting = z.ZodDefault<z.ZodCoercedNumber<unknown>>;
type SpecFields<S extends Record<string, RuntimeSetting>> = { [K in keyof S]: z.ZodOptional<z.ZodNumber> };
type Defaults<S extends Record<string, RuntimeSetting>> = { [K in keyof S]: number };

const defaultsOf = <S extends Record<string, RuntimeSetting>>(shape: S): Defaults<S> =>
  Object.fromEntries(
    Object.entries(shape).map(([key, setting]) => [key, setting.parse(undefined)]),
  ) as Defaults<S>;

/** A runtime setting as an optional spec field: no default (omitted means the runtime's own). */
function specField(key: string, setting: RuntimeSetting): z.ZodOptional<z.ZodNumber> {
  const inner = setting.unwrap();
  let field = z.number();
  if (inner.isInt) field = field.int();
  if (inner.minValue !== null) field = field.min(inner.minValue);
  if (inner.maxValue !== null) field = field.max(inner.maxValue);
  const what = (setting.description ?? '').replace(/\s*\(default [^)]*\)/, '');
  const text = `${what.charAt(0).toUpperCase()}${what.slice(1)}. Omitted: the runtime's default, ${setting.parse(undefined)}. The runtime's --${flagName(key)} (${envName(key)}).`;
  return field.optional().meta({ description: text });
}

function specFieldsOf<S extends Record<string, RuntimeSetting>>(shape: S): SpecFields<S> {
  return Object.fromEntries(
    Object.entries(shape).map(([key, setting]) => [key, specField(key, setting)]),
  ) as SpecFields<S>;
}

/** A rule as the CRD's CEL and the spec's zod refinement: an omitted setting counts at its default. */
function celRule<V extends Record<string, number>>(rule: SettingsRule<V>, defaults: V): CelRule<Partial<V>> {
  return {
    rule: rule.cel((key) => `(has(self.${key}) ? self.${key} : ${defaults[key]})`),
    message: `${rule.field} must be ${rule.requirement}: ${rule.reason} (an omitted setting counts at the runtime's default)`,
    fieldPath: `.${rule.field}`,
    check: (value) => rule.check({ ...defaults, ...value }),
  };
}

const limitsDefaults = defaultsOf(serverSettings.limits);
const timeoutsDefaults = defaultsOf(serverSettings.timeouts);

export const ServerLimitsSchema = withRules(
  z.object(specFieldsOf(serverSettings.limits)).meta({
    description:
      "Request limits of each predictor pod (bodies, batches, strokes, images, queues, /ws messages). Each field is a runtime setting of the same name; omitted: the runtime's default. A request over a limit is refused with 400/413 naming it.",
  }),
  limitsRules.map((rule) => celRule(rule, limitsDefaults)),
);

export const ServerTimeoutsSchema = withRules(
  z.object(specFieldsOf(serverSettings.timeouts)).meta({
    description:
      "Time limits for slow or silent clients, in milliseconds. Each field is a runtime setting of the same name; omitted: the runtime's default.",
  }),
  timeoutsRules.map((rule) => celRule(rule, timeoutsDefaults)),
);

export type ServerLimits = z.output<typeof ServerLimitsSchema>;
export type ServerTimeouts = z.output<typeof ServerTimeoutsSchema>;
