import { describe, expect, it } from 'vitest';
import { defaultRunnerConfig, desiredJob } from '../../../src/operator/inferencejob/desired.ts';
import { job, readyModel } from './ij-scenarios.ts';

const spec = (runner?: unknown) => ({
  modelDeploymentRef: { name: 'mnist' },
  input: { dataset: 'mnist-test', limit: 100 },
  ...(runner === undefined ? {} : { runner }),
});
const runnerResources = (runner?: unknown) =>
  desiredJob(job({ spec: spec(runner) }), readyModel.infer, defaultRunnerConfig).spec!.template.spec!
    .containers[0]!.resources;

// spec.runner.resources: the runner container's requests and limits, as a KServe or Kubeflow user
// sets a container's; omitted, the operator's defaults.
describe('the runner pod of an InferenceJob (spec.runner.resources)', () => {
  it("keeps the operator's defaults when the spec names none", () => {
    expect(runnerResources()).toEqual({
      requests: { cpu: '100m', memory: '128Mi' },
      limits: { memory: '512Mi' },
    });
    expect(runnerResources({})).toEqual(defaultRunnerConfig.resources);
  });

  it('gives each Job its own copy of the defaults', () => {
    const first = runnerResources();
    expect(first).not.toBe(defaultRunnerConfig.resources);
    expect(first?.requests).not.toBe(defaultRunnerConfig.resources.requests);
    first!.requests!.cpu = '9';
    expect(runnerResources()?.requests?.cpu).toBe('100m');
  });

  it("uses the spec's requests and limits, replacing the defaults whole, quantities as strings", () => {
    expect(
      runnerResources({ resources: { requests: { cpu: 1, memory: '32Mi' }, limits: { memory: '64Mi' } } }),
    ).toEqual({
      requests: { cpu: '1', memory: '32Mi' },
      limits: { memory: '64Mi' },
    });
    // Limits only: no request from the defaults is left behind (Kubernetes then requests the limit).
    expect(runnerResources({ resources: { limits: { memory: '2Gi', cpu: '2' } } })).toEqual({
      limits: { memory: '2Gi', cpu: '2' },
    });
  });

  it('leaves the rest of the Job as it was', () => {
    const plain = desiredJob(job({ spec: spec() }), readyModel.infer, defaultRunnerConfig);
    const sized = desiredJob(
      job({ spec: spec({ resources: { limits: { memory: '1Gi' } } }) }),
      readyModel.infer,
      defaultRunnerConfig,
    );
    const withoutResources = (value: typeof plain) => {
      const copy = structuredClone(value);
      delete copy.spec!.template.spec!.containers[0]!.resources;
      // KINFER_SPEC carries the spec itself, runner included.
      copy.spec!.template.spec!.containers[0]!.env = copy.spec!.template.spec!.containers[0]!.env!.filter(
        (e) => e.name !== 'KINFER_SPEC',
      );
      return copy;
    };
    expect(withoutResources(sized)).toEqual(withoutResources(plain));
  });
});
