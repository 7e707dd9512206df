import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ModelDeploymentSpecSchema } from '../../../src/api/modeldeployment.ts';
import { serverSettings } from '../../../src/api/server-limits.ts';
import {
  defaultPredictorConfig,
  desiredDeployment,
  desiredService,
} from '../../../src/operator/modeldeployment/desired.ts';
import { computeStatus } from '../../../src/operator/modeldeployment/status.ts';
import { md } from './fixtures.ts';

// "A spec field the operator cannot honour is rejected or reported in a condition, never silently
// ignored": every leaf of the ModelDeployment spec must change what the operator produces (the
// predictor Deployment, its Service, or the status). A new spec field fails the first test until it
// gets a pair here, and the second until the operator does something with it.

const sha = 'a'.repeat(64);
const base = { model: { name: 'mnist-cnn', source: { builtin: 'mnist-cnn' } }, replicas: 2 };
const withModel = (model: Record<string, unknown>) => ({ ...base, model: { name: 'mnist-cnn', ...model } });
const cm = (name: string, key: string) => withModel({ source: { configMap: { name, key } } });

/** For each spec leaf: two specs that differ only in it. */
const pairs: Record<string, [Record<string, unknown>, Record<string, unknown>]> = {
  'model.name': [base, withModel({ name: 'digits', source: { builtin: 'mnist-cnn' } })],
  'model.source.builtin': [cm('m', 'model.onnx'), base],
  'model.source.uri': [
    withModel({ source: { builtin: 'mnist-cnn' }, sha256: sha }),
    withModel({ source: { uri: 'https://example.com/m.onnx' }, sha256: sha }),
  ],
  'model.source.configMap.name': [cm('a', 'model.onnx'), cm('b', 'model.onnx')],
  'model.source.configMap.key': [cm('a', 'model.onnx'), cm('a', 'other.onnx')],
  'model.sha256': [base, withModel({ source: { builtin: 'mnist-cnn' }, sha256: sha })],
  replicas: [base, { ...base, replicas: 3 }],
  image: [base, { ...base, image: 'registry.example/kinfer:2' }],
  'resources.requests': [
    { ...base, resources: { requests: { cpu: '1' } } },
    { ...base, resources: { requests: { cpu: '2' } } },
  ],
  'resources.limits': [
    { ...base, resources: { limits: { memory: '1Gi' } } },
    { ...base, resources: { limits: { memory: '2Gi' } } },
  ],
  'batching.maxBatchSize': [base, { ...base, batching: { maxBatchSize: 8 } }],
  'batching.maxDelayMs': [base, { ...base, batching: { maxDelayMs: 9 } }],
  'server.port': [base, { ...base, server: { port: 9000 } }],
  'server.maxConnections': [base, { ...base, server: { maxConnections: 50 } }],
  'server.authSecretRef.name': [base, { ...base, server: { authSecretRef: { name: 'token' } } }],
  // Each runtime limit and timeout: the runtime's default + 1, valid alone under every rule between them.
  ...settingPairs('limits', serverSettings.limits),
  ...settingPairs('timeouts', serverSettings.timeouts),
};

function settingPairs(group: string, shape: Record<string, z.ZodType>) {
  return Object.fromEntries(
    Object.entries(shape).map(([key, setting]) => [
      `server.${group}.${key}`,
      [base, { ...base, server: { [group]: { [key]: (setting.parse(undefined) as number) + 1 } } }],
    ]),
  );
}

function leaves(schema: unknown, prefix = ''): string[] {
  const node = schema as { type?: string; properties?: Record<string, unknown> };
  if (node.type !== 'object' || !node.properties) return [prefix];
  return Object.entries(node.properties).flatMap(([key, child]) =>
    leaves(child, prefix ? `${prefix}.${key}` : key),
  );
}

/** Everything the operator produces from a spec. */
function produced(spec: Record<string, unknown>) {
  const object = md(spec);
  const deployment = desiredDeployment(object, defaultPredictorConfig);
  const service = desiredService(object);
  const status = computeStatus(
    object,
    {
      deployment: {
        metadata: { generation: 1 },
        status: {
          observedGeneration: 1,
          replicas: 2,
          readyReplicas: 2,
          updatedReplicas: 2,
          availableReplicas: 2,
        },
      },
      service,
      pods: [],
    },
    new Date('2026-01-01T00:00:00Z'),
  );
  return JSON.parse(JSON.stringify({ deployment, service, status }));
}

describe('every ModelDeployment spec field', () => {
  it('has a pair of specs in this test', () => {
    const fields = leaves(z.toJSONSchema(ModelDeploymentSpecSchema, { io: 'input', unrepresentable: 'any' }));
    expect(fields.sort()).toEqual(Object.keys(pairs).sort());
  });

  it.each(Object.entries(pairs))(
    '%s changes the predictor Deployment, Service or status',
    (_field, [a, b]) => {
      expect(produced(b)).not.toEqual(produced(a));
    },
  );

  it('server.maxConnections reaches the predictor as KINFER_MAX_CONNECTIONS', () => {
    const deployment = desiredDeployment(
      md({ ...base, server: { maxConnections: 77 } }),
      defaultPredictorConfig,
    );
    const env = deployment.spec?.template.spec?.containers[0]?.env ?? [];
    expect(env.find((variable) => variable.name === 'KINFER_MAX_CONNECTIONS')?.value).toBe('77');
  });
});
