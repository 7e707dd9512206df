import { describe, expect, it } from 'vitest';
import { JobServerMessage } from '../../../src/api/jobs.ts';
import { JobFailure } from '../../../src/jobs/errors.ts';
import { arrayInput } from '../../../src/jobs/input/types.ts';
import { inferUrl, parseSpecText } from '../../../src/jobs/process.ts';
import { JobRunner, progressOf } from '../../../src/jobs/runner.ts';
import { parseRunnerAccess } from '../../../src/operator/inferencejob/runner-client.ts';

describe('JobRunner without a model', () => {
  it('fails an empty input with input_invalid, on the stream and in the snapshot', async () => {
    const runner = new JobRunner({
      name: 'empty',
      namespace: 'ns',
      spec: { batchSize: 8, previewIntervalMs: 1000 },
    });
    const frames: JobServerMessage[] = [];
    runner.stream.subscribe({
      bufferedAmount: 0,
      send: (data) => frames.push(JobServerMessage.parse(JSON.parse(data))),
    });
    const outcome = await runner.run(async () => ({
      input: arrayInput(new Uint8Array(0), 0),
      modelEndpoint: 'http://127.0.0.1:9/infer',
    }));
    expect(outcome).toBe('Failed');
    expect(frames).toEqual([
      expect.objectContaining({
        type: 'error',
        code: 'input_invalid',
        message: 'the input holds no images',
        seq: 1,
      }),
    ]);
    const snapshot = runner.snapshot();
    expect(snapshot).toMatchObject({
      phase: 'Failed',
      error: { code: 'input_invalid' },
      progress: { processed: 0, total: 0 },
    });
    expect(snapshot.result).toBeUndefined();
    expect(snapshot.completionTime).toBeDefined();
  });

  it('keeps the code of a failure raised while loading', async () => {
    const runner = new JobRunner({
      name: 'j',
      namespace: 'ns',
      spec: { batchSize: 8, previewIntervalMs: 1000 },
    });
    await runner.run(async () => {
      throw new JobFailure('input_unavailable', 'configMap digits key images.idx: not found');
    });
    expect(runner.snapshot().error).toEqual({
      code: 'input_unavailable',
      message: 'configMap digits key images.idx: not found',
    });
  });

  it('reports progress in whole percent, rounded down', () => {
    expect(progressOf(999, 1000)).toEqual({ processed: 999, total: 1000, percent: 99 });
    expect(progressOf(0, 0).percent).toBe(0);
  });
});

describe('runner settings', () => {
  it('completes a base URL to the V2 infer URL and keeps a full one', () => {
    expect(inferUrl('http://mnist.ns.svc:8080', 'mnist-cnn')).toBe(
      'http://mnist.ns.svc:8080/v2/models/mnist-cnn/infer',
    );
    expect(inferUrl('http://h:1/v2/models/x/infer', 'mnist-cnn')).toBe('http://h:1/v2/models/x/infer');
  });

  it('validates a spec given as JSON, naming the field', () => {
    const spec = parseSpecText(
      JSON.stringify({ spec: { modelDeploymentRef: { name: 'm' }, input: { dataset: 'mnist-test' } } }),
      'KINFER_SPEC',
    );
    expect(spec).toMatchObject({ batchSize: 64, previewIntervalMs: 1000 });
    expect(() => parseSpecText('{"modelDeploymentRef":{"name":"m"},"input":{}}', 'KINFER_SPEC')).toThrow(
      /KINFER_SPEC: spec\.input/,
    );
    expect(() => parseSpecText('nope', 'f.json')).toThrow(/f\.json: not JSON/);
  });

  it('parses how the operator reaches runners', () => {
    expect(parseRunnerAccess(undefined)).toEqual({
      kind: 'url',
      template: 'http://{service}.{namespace}.svc.cluster.local:{port}',
    });
    expect(parseRunnerAccess('apiserver-proxy')).toEqual({ kind: 'apiserver-proxy' });
    expect(parseRunnerAccess('http://127.0.0.1:9000')).toEqual({
      kind: 'url',
      template: 'http://127.0.0.1:9000',
    });
    expect(() => parseRunnerAccess('not a url {name}')).toThrow(/neither "apiserver-proxy" nor a URL/);
  });
});
