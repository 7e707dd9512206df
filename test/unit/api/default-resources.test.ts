import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  DEFAULT_PREDICTOR_RESOURCES,
  DEFAULT_RUNNER_RESOURCES,
  describeResources,
} from '../../../src/api/default-resources.ts';

const root = join(import.meta.dirname, '..', '..', '..');

describe('the predictor default resources', () => {
  it('request 250m CPU and 256Mi, limit memory to 1Gi, and set no CPU limit', () => {
    expect(DEFAULT_PREDICTOR_RESOURCES).toEqual({
      requests: { cpu: '250m', memory: '256Mi' },
      limits: { memory: '1Gi' },
    });
  });

  it('are stated in the CRD, where kubectl explain shows them', () => {
    const crd = parse(readFileSync(join(root, 'crds', 'kinfer.dev_modeldeployments.yaml'), 'utf8'));
    const resources = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.resources;
    expect(resources.description).toContain(
      "Omitted: the operator's defaults (requests cpu 250m, memory 256Mi; limits memory 1Gi)",
    );
    expect(resources.description).toContain('replace those defaults whole');
  });
});

describe('the InferenceJob runner default resources', () => {
  it('request 100m CPU and 128Mi, limit memory to 512Mi, and are stated in the CRD', () => {
    expect(DEFAULT_RUNNER_RESOURCES).toEqual({
      requests: { cpu: '100m', memory: '128Mi' },
      limits: { memory: '512Mi' },
    });
    const crd = parse(readFileSync(join(root, 'crds', 'kinfer.dev_inferencejobs.yaml'), 'utf8'));
    const runner = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.runner;
    expect(runner.properties.resources.description).toContain(
      "Omitted: the operator's defaults (requests cpu 100m, memory 128Mi; limits memory 512Mi)",
    );
  });
});

describe('describeResources', () => {
  it('names requests then limits, each resource with its quantity', () => {
    expect(describeResources(DEFAULT_PREDICTOR_RESOURCES)).toBe(
      'requests cpu 250m, memory 256Mi; limits memory 1Gi',
    );
    expect(describeResources({ limits: { cpu: '2', memory: '4Gi' } })).toBe('limits cpu 2, memory 4Gi');
    expect(describeResources({ requests: { 'ephemeral-storage': '1Gi' } })).toBe(
      'requests ephemeral-storage 1Gi',
    );
  });

  it('says "none" when nothing is requested or limited', () => {
    expect(describeResources({})).toBe('none');
    expect(describeResources({ requests: {}, limits: {} })).toBe('none');
  });
});
