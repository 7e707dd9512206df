// spec.server.limits and spec.server.timeouts: derived from the runtime's own settings, refused at
// admission where the runtime would refuse to start, passed to the pods as the runtime's variables.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildCrd, kinds } from '../../../src/api/crd/crds.ts';
import { parseModelDeployment } from '../../../src/api/index.ts';
import { ModelDeploymentSpecSchema } from '../../../src/api/modeldeployment.ts';
import { serverSettings } from '../../../src/api/server-limits.ts';
import { defaultPredictorConfig, desiredDeployment } from '../../../src/operator/modeldeployment/desired.ts';
import { runtimeSettingsEnv } from '../../../src/operator/modeldeployment/runtime-env.ts';
import { loadRuntimeConfig, runtimeConfigSchema } from '../../../src/runtime/config.ts';
import { envName } from '../../../src/shared/options.ts';
import { md } from '../operator/fixtures.ts';

const builtin = { name: 'mnist-cnn', source: { builtin: 'mnist-cnn' } };
const resource = (server: Record<string, unknown>) => ({
  apiVersion: 'kinfer.dev/v1alpha1',
  kind: 'ModelDeployment',
  metadata: { name: 'mnist' },
  spec: { model: builtin, server },
});
/** The error parseModelDeployment throws, or undefined when the resource is valid. */
const refusal = (server: Record<string, unknown>): string | undefined => {
  try {
    parseModelDeployment(resource(server));
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
};

type Node = { type?: string; minimum?: number; maximum?: number; properties?: Record<string, Node> };
const crd = buildCrd(kinds[0]!) as Json;
// biome-ignore lint/suspicious/noExplicitAny: the generated CRD, walked by path
type Json = any;
const serverNode: Node = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.server;
const groups = serverSettings;

describe('spec.server.limits and spec.server.timeouts (zod, the CRD’s twin)', () => {
  it('are optional with no defaults of their own: omitted is the runtime’s default', () => {
    const parsed = parseModelDeployment(resource({}));
    expect(parsed.spec.server.limits).toBeUndefined();
    expect(parsed.spec.server.timeouts).toBeUndefined();
    expect(parseModelDeployment(resource({ limits: { maxStrokes: 9 } })).spec.server.limits).toEqual({
      maxStrokes: 9,
    });
  });

  it('refuse a value out of range or of the wrong kind, naming the field', () => {
    expect(refusal({ limits: { maxStrokes: 0 } })).toMatch(/spec\.server\.limits\.maxStrokes: .*>=1/);
    expect(refusal({ limits: { bodyLimit: 2 ** 31 } })).toMatch(
      /spec\.server\.limits\.bodyLimit: .*<=1073741824/,
    );
    expect(refusal({ limits: { maxJsonDepth: 8.5 } })).toMatch(
      /spec\.server\.limits\.maxJsonDepth: .*expected int/,
    );
    expect(refusal({ timeouts: { keepAliveTimeoutMs: 99 } })).toMatch(
      /spec\.server\.timeouts\.keepAliveTimeoutMs: .*>=100/,
    );
    expect(refusal({ limits: { maxCoordinate: 1.5 } })).toBeUndefined();
  });

  it('refuse a preprocessing queue too small for the largest request the limits allow, naming the fields', () => {
    // 100,000,000 points × 256 is far beyond the default queue of 33,554,432 units.
    const message = refusal({ limits: { maxPointsPerRequest: 100_000_000 } });
    expect(message).toContain(
      'spec.server.limits.preprocessQueueLimit: preprocessQueueLimit must be at least',
    );
    expect(message).toContain('maxImagePixels + 256 × maxPointsPerRequest + 2048 × maxV2Batch');
    // Exactly at the bound is enough: 16777216 + 100000000 × 256 + 1024 × 2048.
    const bound = 16_777_216 + 100_000_000 * 256 + 1024 * 2048;
    expect(
      refusal({ limits: { maxPointsPerRequest: 100_000_000, preprocessQueueLimit: bound } }),
    ).toBeUndefined();
    expect(
      refusal({ limits: { maxPointsPerRequest: 100_000_000, preprocessQueueLimit: bound - 1 } }),
    ).toMatch(/preprocessQueueLimit/);
    expect(refusal({ limits: { preprocessQueueLimit: 1000 } })).toMatch(/preprocessQueueLimit/);
  });

  it('refuse a queue smaller than the largest batch, and headers given longer than the whole request', () => {
    expect(refusal({ limits: { queueLimit: 100 } })).toMatch(
      /spec\.server\.limits\.queueLimit: queueLimit must be at least maxV2Batch/,
    );
    expect(refusal({ limits: { queueLimit: 100, maxV2Batch: 100 } })).toBeUndefined();
    // The default requestTimeoutMs is 120000.
    expect(refusal({ timeouts: { headersTimeoutMs: 130_000 } })).toMatch(
      /spec\.server\.timeouts\.headersTimeoutMs: headersTimeoutMs must be at most requestTimeoutMs/,
    );
    expect(refusal({ timeouts: { headersTimeoutMs: 130_000, requestTimeoutMs: 130_000 } })).toBeUndefined();
  });
});

describe('the CRD and the runtime accept exactly the same values', () => {
  it('exposes every setting of the runtime’s limits and timeouts, with the runtime’s type and bounds', () => {
    for (const [group, shape] of Object.entries(groups)) {
      const properties = serverNode.properties?.[group]?.properties ?? {};
      expect(Object.keys(properties), group).toEqual(Object.keys(shape));
      for (const [key, setting] of Object.entries(shape)) {
        const node = properties[key]!;
        const { minimum, maximum } = node;
        expect(minimum, key).toBeTypeOf('number');
        expect(maximum, key).toBeTypeOf('number');
        const accepts = (value: number) => setting.safeParse(String(value)).success;
        expect(accepts(minimum!), `${key} = ${minimum}`).toBe(true);
        expect(accepts(maximum!), `${key} = ${maximum}`).toBe(true);
        const step = node.type === 'integer' ? 1 : 1e-6;
        expect(accepts(minimum! - step), `${key} = ${minimum! - step}`).toBe(false);
        expect(accepts(maximum! + step), `${key} = ${maximum! + step}`).toBe(false);
        expect(accepts(minimum! + 0.5), `${key} = ${minimum! + 0.5}`).toBe(node.type === 'number');
      }
    }
  });

  it('gives every runtime setting a place: exposed here, set by the operator, or deliberately not', () => {
    const fromOperator = new Set(
      (
        desiredDeployment(
          md({
            model: { ...builtin, sha256: 'a'.repeat(64) },
            server: { authSecretRef: { name: 'token' } },
          }),
          defaultPredictorConfig,
        ).spec?.template.spec?.containers[0]?.env ?? []
      ).map((variable) => variable.name),
    );
    // Not a request limit or timeout of one replica's API: process shape (threads, priority, heap), the
    // config file, logging, CORS, shutdown timing (bound to the pod's 30 s grace period and preStop
    // sleep) and the pace of live predictions while drawing.
    const notExposed = [
      'config',
      'workers',
      'intraOpNumThreads',
      'preprocessWorkers',
      'preprocessNice',
      'maxSemiSpaceMb',
      'corsOrigins',
      'logLevel',
      'terminationLogPath',
      'drainTimeoutMs',
      'wsLiveIntervalMs',
      'wsShutdownGraceMs',
    ];
    const exposed = Object.values(groups).flatMap((shape) => Object.keys(shape));
    const unplaced = Object.keys(runtimeConfigSchema.shape).filter(
      (key) => !exposed.includes(key) && !notExposed.includes(key) && !fromOperator.has(envName(key)),
    );
    // A runtime setting added later fails here until it is exposed (add it to src/api/runtime-limits.ts)
    // or listed above with a reason.
    expect(unplaced).toEqual([]);
  });

  it('refuses at admission exactly what the runtime would refuse to start with (random limits)', () => {
    type Setting = (typeof serverSettings.limits)[keyof typeof serverSettings.limits];
    const value = (setting: Setting) => {
      const inner = setting.unwrap();
      const [min, max, fallback] = [inner.minValue!, inner.maxValue!, setting.parse(undefined) as number];
      const near = { min: Math.max(min, Math.floor(fallback / 4)), max: Math.min(max, fallback * 4) };
      return fc.oneof(
        {
          weight: 4,
          arbitrary: inner.isInt ? fc.integer({ min, max }) : fc.double({ min, max, noNaN: true }),
        },
        // Near the defaults, where the rules between settings are decided.
        { weight: 20, arbitrary: fc.integer(near) },
        { weight: 4, arbitrary: fc.constantFrom(min, max, fallback) },
        { weight: 1, arbitrary: fc.constantFrom(min - 1, max + 1) },
      );
    };
    const group = (shape: Record<string, Setting>) =>
      fc.record(Object.fromEntries(Object.entries(shape).map(([key, setting]) => [key, value(setting)])), {
        requiredKeys: [],
      });
    const seen = { admitted: 0, refusedByRule: 0, refusedByBound: 0 };
    fc.assert(
      fc.property(group(serverSettings.limits), group(serverSettings.timeouts), (limits, timeouts) => {
        const admitted = ModelDeploymentSpecSchema.safeParse({
          model: builtin,
          server: { limits, timeouts },
        });
        const env = Object.fromEntries(
          runtimeSettingsEnv({ limits, timeouts }).map(({ name, value }) => [name, value]),
        );
        let config: ReturnType<typeof loadRuntimeConfig> | undefined;
        try {
          config = loadRuntimeConfig([], env);
        } catch {
          config = undefined;
        }
        const context = JSON.stringify({ limits, timeouts, issues: admitted.error?.issues });
        expect(config !== undefined, context).toBe(admitted.success);
        if (config) {
          // What the pod runs with is what the spec says.
          for (const [key, given] of Object.entries({ ...limits, ...timeouts })) {
            expect(config[key as keyof typeof config], key).toBe(given);
          }
          seen.admitted++;
        } else if (admitted.error?.issues.every((issue) => issue.code === 'custom')) {
          seen.refusedByRule++;
        } else {
          seen.refusedByBound++;
        }
      }),
      { numRuns: 300 },
    );
    // The run covered all three outcomes, so the agreement above means something.
    expect(seen.admitted).toBeGreaterThan(20);
    expect(seen.refusedByRule).toBeGreaterThan(5);
    expect(seen.refusedByBound).toBeGreaterThan(5);
  }, 60_000);
});
