import { describe, expect, it } from 'vitest';
import { isSubset, needsApply, ownedButNotDesired } from '../../../src/kube/drift.ts';
import type { KubeObject } from '../../../src/kube/resources.ts';

describe('isSubset (would an apply change anything we own?)', () => {
  it.each([
    { what: 'equal', desired: { a: 1 }, observed: { a: 1 }, expected: true },
    { what: 'server-added fields', desired: { a: 1 }, observed: { a: 1, b: 2 }, expected: true },
    { what: 'changed value', desired: { a: 1 }, observed: { a: 2 }, expected: false },
    { what: 'missing field', desired: { a: { b: 1 } }, observed: { a: {} }, expected: false },
    { what: 'defaulted list items', desired: [{ a: 1 }], observed: [{ a: 1, p: 'TCP' }], expected: true },
    { what: 'list length', desired: [{ a: 1 }], observed: [{ a: 1 }, { a: 2 }], expected: false },
    {
      what: 'named entry another manager added',
      desired: [{ name: 'A', value: '1' }],
      observed: [
        { name: 'B', value: '2' },
        { name: 'A', value: '1' },
      ],
      expected: true,
    },
    {
      what: 'named entry missing',
      desired: [{ name: 'A' }, { name: 'C' }],
      observed: [{ name: 'A' }, { name: 'B' }],
      expected: false,
    },
    {
      what: 'canonical quantity',
      desired: { resources: { cpu: '0.5' } },
      observed: { resources: { cpu: '500m' } },
      expected: true,
    },
    {
      what: 'number quantity',
      desired: { resources: { cpu: '2' } },
      observed: { resources: { cpu: 2 } },
      expected: true,
    },
    {
      what: 'binary quantity',
      desired: { resources: { m: '1024Mi' } },
      observed: { resources: { m: '1Gi' } },
      expected: true,
    },
    {
      what: 'different quantity',
      desired: { resources: { m: '1Gi' } },
      observed: { resources: { m: '1G' } },
      expected: false,
    },
    {
      what: 'quantity-looking label',
      desired: { labels: { v: '1.0' } },
      observed: { labels: { v: '1' } },
      expected: false,
    },
    { what: 'undefined in desired', desired: { a: undefined, b: 1 }, observed: { b: 1 }, expected: true },
  ])('$what → $expected', ({ desired, observed, expected }) => {
    expect(isSubset(desired, observed)).toBe(expected);
  });
});

describe('ownedButNotDesired (does the manager own a field it no longer wants?)', () => {
  const owned = {
    'f:metadata': { 'f:annotations': { 'f:kinfer.dev/a': {} }, 'f:labels': { '.': {}, 'f:app': {} } },
    'f:spec': {
      'f:replicas': {},
      'f:template': {
        'f:spec': {
          'f:containers': {
            'k:{"name":"predictor"}': {
              '.': {},
              'f:env': { 'k:{"name":"X"}': { '.': {}, 'f:name': {}, 'f:value': {} } },
              'f:ports': { 'k:{"containerPort":8080,"protocol":"TCP"}': { 'f:containerPort': {} } },
              'f:resources': { 'f:limits': { 'f:cpu': {} } },
            },
          },
        },
      },
    },
  };
  const desired = {
    metadata: { annotations: { 'kinfer.dev/a': '1' }, labels: { app: 'x' } },
    spec: {
      replicas: 1,
      template: {
        spec: {
          containers: [
            {
              name: 'predictor',
              env: [{ name: 'X', value: '1' }],
              ports: [{ containerPort: 8080, protocol: 'TCP' }],
              resources: { limits: { cpu: '1' } },
            },
          ],
        },
      },
    },
  };
  const without = (mutate: (copy: typeof desired) => void) => {
    const copy = structuredClone(desired);
    mutate(copy);
    return copy;
  };

  it('is false when everything owned is still desired', () => {
    expect(ownedButNotDesired(owned, desired)).toBe(false);
  });
  it.each([
    [
      'a resources key',
      (d: typeof desired) =>
        delete (d.spec.template.spec.containers[0]!.resources.limits as Record<string, unknown>).cpu,
    ],
    ['an env entry', (d: typeof desired) => d.spec.template.spec.containers[0]!.env.splice(0, 1)],
    [
      'an annotation',
      (d: typeof desired) => delete (d.metadata.annotations as Record<string, unknown>)['kinfer.dev/a'],
    ],
    [
      'a keyed port',
      (d: typeof desired) => (d.spec.template.spec.containers[0]!.ports[0]!.containerPort = 9090),
    ],
    ['a whole field', (d: typeof desired) => delete (d.spec as Record<string, unknown>).replicas],
  ])('is true once %s is removed', (_what, mutate) => {
    expect(ownedButNotDesired(owned, without(mutate))).toBe(true);
  });
});

describe('needsApply', () => {
  const manager = 'kinfer-operator';
  const live = (annotations: Record<string, string>, fields: object | undefined): KubeObject => ({
    metadata: {
      name: 'x',
      annotations,
      ...(fields
        ? {
            managedFields: [
              { manager, operation: 'Apply', fieldsType: 'FieldsV1', fieldsV1: fields },
              { manager: 'kubectl-annotate', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: {} },
            ],
          }
        : {}),
    },
  });
  const desired = (annotations: Record<string, string>): KubeObject => ({
    metadata: { name: 'x', annotations },
  });
  const ours = { 'f:metadata': { 'f:annotations': { 'f:a': {} } } };

  it('is false when the child is as applied, with a field another manager added', () => {
    expect(needsApply(desired({ a: '1' }), live({ a: '1', team: 'blue' }, ours), manager)).toBe(false);
  });
  it('is true when a field it applied is no longer desired', () => {
    expect(needsApply(desired({}), live({ a: '1' }, ours), manager)).toBe(true);
  });
  it('is true when a desired field differs', () => {
    expect(needsApply(desired({ a: '2' }), live({ a: '1' }, ours), manager)).toBe(true);
  });
  it('is true when the manager never applied (nothing records what it owns)', () => {
    expect(needsApply(desired({ a: '1' }), live({ a: '1' }, undefined), manager)).toBe(true);
  });
});
