import { describe, expect, it } from 'vitest';
import {
  builtinModels,
  type InferenceJobInput,
  InvalidResourceError,
  type ModelDeploymentInput,
  parseInferenceJob,
  parseModelDeployment,
} from '../../../src/api/index.ts';

const md = (spec: Record<string, unknown>, name = 'mnist'): ModelDeploymentInput =>
  ({
    apiVersion: 'kinfer.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name },
    spec,
  }) as ModelDeploymentInput;
const ij = (spec: Record<string, unknown>, name = 'job'): InferenceJobInput =>
  ({
    apiVersion: 'kinfer.dev/v1alpha1',
    kind: 'InferenceJob',
    metadata: { name },
    spec,
  }) as InferenceJobInput;
const builtin = { name: 'mnist-cnn', source: { builtin: 'mnist-cnn' } };
const sha = 'a'.repeat(64);

/** The messages of the InvalidResourceError a parse throws, or [] when it parses. */
function problems(parse: () => unknown): string[] {
  try {
    parse();
    return [];
  } catch (error) {
    if (!(error instanceof InvalidResourceError)) throw error;
    return error.issues.map(({ path, message }) => `${path}: ${message}`);
  }
}

describe('ModelDeployment schema', () => {
  it('applies every default to a minimal spec', () => {
    const parsed = parseModelDeployment(md({ model: builtin }));
    expect(parsed.spec).toEqual({
      model: builtin,
      replicas: 1,
      batching: { maxBatchSize: 32, maxDelayMs: 2 },
      server: { port: 8080, maxConnections: 1000 },
    });
  });

  it('fills nested defaults of a partly written object', () => {
    const parsed = parseModelDeployment(
      md({ model: builtin, batching: { maxBatchSize: 8 }, server: { port: 9000 } }),
    );
    expect(parsed.spec.batching).toEqual({ maxBatchSize: 8, maxDelayMs: 2 });
    expect(parsed.spec.server).toEqual({ port: 9000, maxConnections: 1000 });
  });

  it('accepts every builtin model', () => {
    for (const name of builtinModels) {
      const parsed = parseModelDeployment(md({ model: { name: 'm', source: { builtin: name } } }));
      expect(parsed.spec.model.source.builtin).toBe(name);
    }
    expect(builtinModels).toContain('mnist-small');
  });

  it('defaults the ConfigMap key', () => {
    const parsed = parseModelDeployment(md({ model: { name: 'm', source: { configMap: { name: 'cm' } } } }));
    expect(parsed.spec.model.source.configMap).toEqual({ name: 'cm', key: 'model.onnx' });
  });

  it.each([
    ['no model source', { model: { name: 'm', source: {} } }, 'spec.model.source: exactly one model source'],
    [
      'two model sources',
      { model: { name: 'm', source: { builtin: 'mnist-cnn', configMap: { name: 'x' } }, sha256: sha } },
      'spec.model.source: exactly one model source',
    ],
    [
      'uri without sha256',
      { model: { name: 'm', source: { uri: 'https://e.com/m.onnx' } } },
      'spec.model.sha256: sha256 is required',
    ],
    [
      'a non-http uri',
      { model: { name: 'm', source: { uri: 'file:///m.onnx' } }, sha256: sha },
      'spec.model.source.uri',
    ],
    [
      'an unknown builtin model',
      { model: { name: 'm', source: { builtin: 'resnet' } } },
      'spec.model.source.builtin',
    ],
    ['a bad sha256', { model: { ...builtin, sha256: 'ABC' } }, 'spec.model.sha256'],
    ['negative replicas', { model: builtin, replicas: -1 }, 'spec.replicas'],
    ['fractional replicas', { model: builtin, replicas: 1.5 }, 'spec.replicas'],
    ['batch size 0', { model: builtin, batching: { maxBatchSize: 0 } }, 'spec.batching.maxBatchSize'],
    [
      'batch size over the limit',
      { model: builtin, batching: { maxBatchSize: 4096 } },
      'spec.batching.maxBatchSize',
    ],
    ['a privileged port', { model: builtin, server: { port: 80 } }, 'spec.server.port'],
    [
      'a bad quantity',
      { model: builtin, resources: { limits: { cpu: 'lots' } } },
      'spec.resources.limits.cpu',
    ],
    [
      'a predictor cpu request over its limit',
      { model: builtin, resources: { requests: { cpu: '2' }, limits: { cpu: '1500m' } } },
      'spec.resources.requests: a request cannot exceed its limit',
    ],
    ['a model name with capitals', { model: { ...builtin, name: 'MNIST' } }, 'spec.model.name'],
  ])('rejects %s, naming the field', (_, spec, expected) => {
    const found = problems(() => parseModelDeployment(md(spec)));
    expect(found.join('\n')).toContain(expected);
  });

  it('rejects a name that cannot name a Service', () => {
    expect(problems(() => parseModelDeployment(md({ model: builtin }, '9lives'))).join()).toContain(
      'metadata.name',
    );
    expect(problems(() => parseModelDeployment(md({ model: builtin }, 'a'.repeat(64))))).not.toEqual([]);
    expect(problems(() => parseModelDeployment(md({ model: builtin }, 'a'.repeat(63))))).toEqual([]);
  });

  it('accepts quantities as Kubernetes writes them', () => {
    const resources = { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: 2, memory: '1Gi' } };
    expect(parseModelDeployment(md({ model: builtin, resources })).spec.resources).toEqual(resources);
  });
});

describe('InferenceJob schema', () => {
  it('applies every default to a minimal spec', () => {
    const parsed = parseInferenceJob(
      ij({ modelDeploymentRef: { name: 'mnist' }, input: { dataset: 'mnist-test' } }),
    );
    expect(parsed.spec).toEqual({
      modelDeploymentRef: { name: 'mnist' },
      input: { dataset: 'mnist-test' },
      batchSize: 64,
      previewIntervalMs: 1000,
      backoffLimit: 2,
      activeDeadlineSeconds: 600,
      ttlSecondsAfterFinished: 3600,
    });
  });

  it('defaults the synthetic seed and the ConfigMap format', () => {
    const ref = { name: 'mnist' };
    expect(
      parseInferenceJob(ij({ modelDeploymentRef: ref, input: { synthetic: { count: 5 } } })).spec.input,
    ).toEqual({
      synthetic: { count: 5, seed: 1 },
    });
    expect(
      parseInferenceJob(ij({ modelDeploymentRef: ref, input: { configMap: { name: 'd', key: 'k' } } })).spec
        .input,
    ).toEqual({ configMap: { name: 'd', key: 'k', format: 'idx' } });
  });

  const ref = { name: 'mnist' };
  it.each([
    ['no input', { modelDeploymentRef: ref, input: {} }, 'spec.input: exactly one input'],
    ['only a limit', { modelDeploymentRef: ref, input: { limit: 5 } }, 'spec.input: exactly one input'],
    [
      'two inputs',
      { modelDeploymentRef: ref, input: { dataset: 'mnist-test', synthetic: { count: 1 } } },
      'spec.input: exactly one input',
    ],
    [
      'a limit over the synthetic count',
      { modelDeploymentRef: ref, input: { synthetic: { count: 5 }, limit: 6 } },
      'spec.input.limit',
    ],
    [
      'an empty inline list',
      { modelDeploymentRef: ref, input: { inline: { images: [] } } },
      'spec.input.inline.images',
    ],
    [
      'batch size 0',
      { modelDeploymentRef: ref, input: { dataset: 'mnist-test' }, batchSize: 0 },
      'spec.batchSize',
    ],
    [
      'batch size over the limit',
      { modelDeploymentRef: ref, input: { dataset: 'mnist-test' }, batchSize: 1025 },
      'spec.batchSize',
    ],
    [
      'a preview interval under the minimum',
      { modelDeploymentRef: ref, input: { dataset: 'mnist-test' }, previewIntervalMs: 50 },
      'spec.previewIntervalMs',
    ],
    [
      'an unknown format',
      { modelDeploymentRef: ref, input: { configMap: { name: 'd', key: 'k', format: 'csv' } } },
      'spec.input.configMap.format',
    ],
    ['no model deployment', { input: { dataset: 'mnist-test' } }, 'spec.modelDeploymentRef'],
    [
      'a bad runner quantity',
      {
        modelDeploymentRef: ref,
        input: { dataset: 'mnist-test' },
        runner: { resources: { limits: { memory: '64 MB' } } },
      },
      'spec.runner.resources.limits.memory',
    ],
    [
      'a fractional number as a runner quantity',
      {
        modelDeploymentRef: ref,
        input: { dataset: 'mnist-test' },
        runner: { resources: { requests: { cpu: 0.5 } } },
      },
      'spec.runner.resources.requests.cpu',
    ],
    [
      'a runner memory request over its limit',
      {
        modelDeploymentRef: ref,
        input: { dataset: 'mnist-test' },
        runner: { resources: { requests: { memory: '1Gi' }, limits: { memory: '1023Mi' } } },
      },
      'spec.runner.resources.requests: a request cannot exceed its limit',
    ],
    [
      'runner resources that are not an object',
      { modelDeploymentRef: ref, input: { dataset: 'mnist-test' }, runner: { resources: 'big' } },
      'spec.runner.resources',
    ],
  ])('rejects %s, naming the field', (_, spec, expected) => {
    expect(problems(() => parseInferenceJob(ij(spec))).join('\n')).toContain(expected);
  });

  it('limits names to what "<name>-preview" allows', () => {
    const spec = { modelDeploymentRef: ref, input: { dataset: 'mnist-test' } };
    expect(problems(() => parseInferenceJob(ij(spec, 'a'.repeat(55))))).toEqual([]);
    expect(problems(() => parseInferenceJob(ij(spec, 'a'.repeat(56)))).join()).toContain('metadata.name');
  });

  it('validates status as the operator writes it', () => {
    const job = parseInferenceJob({
      ...ij({ modelDeploymentRef: ref, input: { dataset: 'mnist-test' } }),
      status: {
        phase: 'Succeeded',
        observedGeneration: 1,
        conditions: [
          {
            type: 'Succeeded',
            status: 'True',
            reason: 'Completed',
            message: '',
            lastTransitionTime: '2026-01-01T00:00:00Z',
          },
        ],
        progress: { processed: 10, total: 10, percent: 100 },
        result: {
          classCounts: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
          accuracy: 1,
          imagesPerSecond: 100,
          latencyMs: { p50: 1, p99: 2 },
        },
      },
    });
    expect(job.status?.phase).toBe('Succeeded');
    expect(
      problems(() =>
        parseInferenceJob({
          ...ij({ modelDeploymentRef: ref, input: { dataset: 'mnist-test' } }),
          status: { result: { classCounts: [1], imagesPerSecond: 1, latencyMs: { p50: 1, p99: 1 } } },
        }),
      ).join(),
    ).toContain('status.result.classCounts');
  });
});
