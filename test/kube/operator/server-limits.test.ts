// spec.server.limits and spec.server.timeouts on the real apiserver: an out-of-range value and a
// violated rule between settings are refused at admission naming the field (the CRD's OpenAPI
// bounds and CEL rules), exactly where the zod twin refuses; a valid value reaches the predictor's
// pod template as the runtime's own variable, and a change or removal follows it there.
import { describe, expect, it } from 'vitest';
import { parseModelDeployment } from '../../../src/api/index.ts';
import { testKubeconfigPath } from '../../support/kube.ts';
import { type Json, kubectlApply, kubectlJson, modelDeployment, until, useTestOperator } from './support.ts';

const { namespace } = useTestOperator('op-limits');
const kubeconfig = testKubeconfigPath;

const apply = (name: string, server: Record<string, unknown>) =>
  kubectlApply(kubeconfig(), [modelDeployment(name, namespace(), { server })]);

/** The apiserver's refusal of the object, after checking that the zod twin refuses it at the same field. */
async function refused(server: Record<string, unknown>, field: string): Promise<string> {
  const object = modelDeployment('refused', namespace(), { server });
  expect(() => parseModelDeployment(object), 'zod').toThrow(`${field}:`);
  const error = await apply('refused', server).then(
    () => undefined,
    (rejection: Error) => rejection,
  );
  expect(error, `the apiserver accepted ${JSON.stringify(server)}`).toBeInstanceOf(Error);
  expect(error!.message).toContain(field);
  return error!.message;
}

/** Accepted by the apiserver and by the zod twin. */
async function accepted(name: string, server: Record<string, unknown>): Promise<void> {
  parseModelDeployment(modelDeployment(name, namespace(), { server }));
  await apply(name, server);
}

const predictorEnv = async (name: string): Promise<Record<string, string>> => {
  const deployment = await kubectlJson(kubeconfig(), ['get', '-n', namespace(), 'deployment', name]);
  return Object.fromEntries(
    deployment.spec.template.spec.containers[0].env
      .filter((variable: Json) => variable.value !== undefined)
      .map((variable: Json) => [variable.name, variable.value]),
  );
};

describe('ModelDeployment spec.server.limits and .timeouts on the apiserver', () => {
  it('refuses a value out of range or of the wrong type, naming the field', async () => {
    expect(await refused({ limits: { maxStrokes: 0 } }, 'spec.server.limits.maxStrokes')).toMatch(
      /greater than or equal to 1/,
    );
    expect(await refused({ limits: { bodyLimit: 2 ** 31 } }, 'spec.server.limits.bodyLimit')).toMatch(
      /less than or equal to 1073741824/,
    );
    expect(await refused({ limits: { maxJsonDepth: 8.5 } }, 'spec.server.limits.maxJsonDepth')).toMatch(
      /integer/,
    );
    expect(
      await refused({ timeouts: { keepAliveTimeoutMs: 99 } }, 'spec.server.timeouts.keepAliveTimeoutMs'),
    ).toMatch(/greater than or equal to 100/);
    expect(
      await refused({ limits: { wsMaxPayloadBytes: 512 } }, 'spec.server.limits.wsMaxPayloadBytes'),
    ).toMatch(/greater than or equal to 1024/);
  });

  it('refuses limits whose largest request does not fit the preprocessing queue (CEL), naming the fields', async () => {
    const message = await refused(
      { limits: { maxPointsPerRequest: 100_000_000 } },
      'spec.server.limits.preprocessQueueLimit',
    );
    expect(message).toContain('maxImagePixels + 256 × maxPointsPerRequest + 2048 × maxV2Batch');
    // The CEL arithmetic is the runtime's: one unit below the bound is refused, the bound itself accepted.
    const bound = 16_777_216 + 100_000_000 * 256 + 1024 * 2048;
    await refused(
      { limits: { maxPointsPerRequest: 100_000_000, preprocessQueueLimit: bound - 1 } },
      'spec.server.limits.preprocessQueueLimit',
    );
    await accepted('at-bound', { limits: { maxPointsPerRequest: 100_000_000, preprocessQueueLimit: bound } });
    expect(await refused({ limits: { queueLimit: 100 } }, 'spec.server.limits.queueLimit')).toContain(
      'queueLimit must be at least maxV2Batch',
    );
    await accepted('small-queue', { limits: { queueLimit: 100, maxV2Batch: 100 } });
  });

  it('refuses a headers timeout longer than the request timeout (CEL, omitted counts at the default)', async () => {
    expect(
      await refused({ timeouts: { headersTimeoutMs: 130_000 } }, 'spec.server.timeouts.headersTimeoutMs'),
    ).toContain('headersTimeoutMs must be at most requestTimeoutMs');
    await accepted('long-headers', { timeouts: { headersTimeoutMs: 130_000, requestTimeoutMs: 130_000 } });
  });

  it('passes the values set to the predictor pods; a change or removal reaches the pod template', async () => {
    await accepted('tuned', {
      limits: { maxStrokes: 512, maxCoordinate: 2.5e5, bodyLimit: 1_048_576 },
      timeouts: { requestTimeoutMs: 300_000, wsHeartbeatIntervalMs: 10_000 },
    });
    const runtimeVariables = (env: Record<string, string>) =>
      Object.fromEntries(
        Object.entries(env).filter(([name]) =>
          /^KINFER_(MAX_STROKES|MAX_COORDINATE|BODY_LIMIT|REQUEST_TIMEOUT_MS|WS_HEARTBEAT_INTERVAL_MS|MAX_JSON_DEPTH)$/.test(
            name,
          ),
        ),
      );
    const first = await until('the Deployment with the limits', async () => {
      const env = await predictorEnv('tuned').catch(() => undefined);
      return env && Object.keys(runtimeVariables(env)).length ? env : undefined;
    });
    expect(runtimeVariables(first)).toEqual({
      KINFER_MAX_STROKES: '512',
      KINFER_MAX_COORDINATE: '250000',
      KINFER_BODY_LIMIT: '1048576',
      KINFER_REQUEST_TIMEOUT_MS: '300000',
      KINFER_WS_HEARTBEAT_INTERVAL_MS: '10000',
    });
    // Nothing else: an omitted setting is left to the runtime's default.
    expect(first.KINFER_MAX_POINTS_PER_STROKE).toBeUndefined();
    expect(first.KINFER_HEADERS_TIMEOUT_MS).toBeUndefined();

    await accepted('tuned', { limits: { maxStrokes: 600, maxJsonDepth: 32 } });
    const second = await until('the changed limits in the pod template', async () => {
      const env = runtimeVariables(await predictorEnv('tuned'));
      return env.KINFER_MAX_STROKES === '600' ? env : undefined;
    });
    expect(second).toEqual({ KINFER_MAX_STROKES: '600', KINFER_MAX_JSON_DEPTH: '32' });
  });
});
