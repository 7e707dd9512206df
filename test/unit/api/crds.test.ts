import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildCrd, kinds } from '../../../src/api/crd/crds.ts';
import { renderGeneratedFiles } from '../../../src/api/crd/render.ts';
import { NonStructuralSchemaError, toStructural } from '../../../src/api/crd/structural.ts';

const root = join(import.meta.dirname, '..', '..', '..');
type Schema = {
  [key: string]: unknown;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema;
};

/** Every node of a schema with its path. */
function* walk(schema: Schema, path: string): Generator<[string, Schema]> {
  yield [path, schema];
  for (const [name, child] of Object.entries(schema.properties ?? {})) yield* walk(child, `${path}.${name}`);
  if (schema.items) yield* walk(schema.items, `${path}[]`);
  if (schema.additionalProperties) yield* walk(schema.additionalProperties, `${path}.*`);
}

const crdOf = (plural: string) => {
  const crd = parse(readFileSync(join(root, 'crds', `kinfer.dev_${plural}.yaml`), 'utf8'));
  return {
    crd,
    version: crd.spec.versions[0],
    schema: crd.spec.versions[0].schema.openAPIV3Schema as Schema,
  };
};

describe('generated CRDs', () => {
  it('are committed exactly as `npm run crds` writes them', () => {
    for (const [path, text] of renderGeneratedFiles(root)) {
      expect(readFileSync(join(root, path), 'utf8'), `${path} is stale: run npm run crds`).toBe(text);
    }
  });

  it("keep the chart's crds/ identical to crds/, with nothing else in it", () => {
    const chart = readdirSync(join(root, 'charts/kinfer/crds')).sort();
    const crds = readdirSync(join(root, 'crds'))
      .filter((f) => f !== 'kustomization.yaml')
      .sort();
    expect(chart).toEqual(crds);
    for (const file of crds) {
      expect(readFileSync(join(root, 'charts/kinfer/crds', file), 'utf8')).toBe(
        readFileSync(join(root, 'crds', file), 'utf8'),
      );
    }
  });

  it('are deterministic', () => {
    expect([...renderGeneratedFiles(root)]).toEqual([...renderGeneratedFiles(root)]);
  });

  it.each(['modeldeployments', 'inferencejobs'])('%s: structural, typed, described', (plural) => {
    const { schema } = crdOf(plural);
    for (const [path, node] of walk(schema, '')) {
      for (const key of ['$ref', 'oneOf', 'allOf', 'not', '$schema', 'nullable']) {
        expect(node, `${path} has ${key}`).not.toHaveProperty(key);
      }
      if (node['x-kubernetes-int-or-string']) {
        expect(node.anyOf).toEqual([{ type: 'integer' }, { type: 'string' }]);
      } else {
        expect(node, `${path} has anyOf`).not.toHaveProperty('anyOf');
        expect(typeof node.type, `${path} has no type`).toBe('string');
      }
      expect(node.additionalProperties, `${path} has additionalProperties: false`).not.toBe(false);
      expect(node, `${path}`).not.toHaveProperty('x-kubernetes-preserve-unknown-fields');
      // kubectl explain shows these: every field a user writes or reads has one.
      if (/^\.(spec|status)\./.test(path) && !path.endsWith('[]') && !path.endsWith('.*')) {
        expect(typeof node.description, `${path} has no description`).toBe('string');
      }
      if (node.type === 'integer') {
        expect(Math.abs((node.maximum as number) ?? 0)).toBeLessThan(Number.MAX_SAFE_INTEGER);
      }
    }
  });

  it('ModelDeployment: scale and status subresources, short name, category, columns', () => {
    const { crd, version } = crdOf('modeldeployments');
    expect(crd.metadata.name).toBe('modeldeployments.kinfer.dev');
    expect(crd.spec.names).toMatchObject({
      kind: 'ModelDeployment',
      shortNames: ['md'],
      categories: ['kinfer'],
    });
    expect(version.subresources).toEqual({
      status: {},
      scale: {
        specReplicasPath: '.spec.replicas',
        statusReplicasPath: '.status.replicas',
        labelSelectorPath: '.status.selector',
      },
    });
    expect(version.additionalPrinterColumns.map((c: { name: string }) => c.name)).toEqual([
      'Ready',
      'Replicas',
      'Available',
      'Model',
      'Endpoint',
      'Reason',
      'Age',
    ]);
    const spec = version.schema.openAPIV3Schema.properties.spec;
    expect(spec.properties.replicas.default).toBe(1);
    expect(spec.properties.batching.default).toEqual({});
    expect(spec.properties.model.properties.source['x-kubernetes-validations'][0].rule).toBe(
      '[has(self.builtin), has(self.uri), has(self.configMap)].filter(x, x).size() == 1',
    );
    const conditions = version.schema.openAPIV3Schema.properties.status.properties.conditions;
    expect(conditions['x-kubernetes-list-type']).toBe('map');
    expect(conditions.items.required).toEqual(['type', 'status', 'lastTransitionTime', 'reason', 'message']);
  });

  it('InferenceJob: immutable spec, exactly one input, status subresource, short name', () => {
    const { crd, version } = crdOf('inferencejobs');
    expect(crd.spec.names).toMatchObject({
      kind: 'InferenceJob',
      shortNames: ['ij'],
      categories: ['kinfer'],
    });
    expect(version.subresources).toEqual({ status: {} });
    const spec = version.schema.openAPIV3Schema.properties.spec;
    expect(spec['x-kubernetes-validations']).toEqual([
      { rule: 'self == oldSelf', message: 'spec is immutable: create a new InferenceJob instead' },
    ]);
    expect(spec.properties.input['x-kubernetes-validations'][0].rule).toContain('.filter(x, x).size() == 1');
    expect(spec.properties.previewIntervalMs.minimum).toBe(100);
  });

  it('orders CRDs before everything else for Argo CD', () => {
    for (const kind of kinds) {
      expect((buildCrd(kind).metadata as { annotations: Record<string, string> }).annotations).toEqual({
        'argocd.argoproj.io/sync-wave': '-1',
      });
    }
  });
});

describe('toStructural', () => {
  it.each([
    [{ $ref: '#/x' }, '$ref'],
    [
      { type: 'object', properties: { a: { anyOf: [{ type: 'string' }, { type: 'number' }] } } },
      '.a: "anyOf"',
    ],
    [{ type: 'object', properties: { a: { oneOf: [] } } }, '.a: "oneOf"'],
    [{ type: 'object', properties: { a: { description: 'untyped' } } }, '.a: every node needs a type'],
    [
      {
        type: 'object',
        properties: { a: { anyOf: [{ type: 'string' }], 'x-kubernetes-int-or-string': true } },
      },
      'integer | string',
    ],
  ])('rejects %j', (schema, message) => {
    expect(() => toStructural(schema)).toThrow(NonStructuralSchemaError);
    expect(() => toStructural(schema)).toThrow(message);
  });

  it("drops zod's safe-integer bounds, additionalProperties: false and date-time patterns", () => {
    expect(
      toStructural({
        type: 'object',
        additionalProperties: false,
        properties: {
          n: { type: 'integer', minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER },
          t: { type: 'string', format: 'date-time', pattern: '^\\d+$' },
          p: { type: 'string', pattern: '^a\\/b$' },
        },
      }),
    ).toEqual({
      type: 'object',
      properties: {
        n: { type: 'integer' },
        t: { type: 'string', format: 'date-time' },
        p: { type: 'string', pattern: '^a/b$' },
      },
    });
  });
});
