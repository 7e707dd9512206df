import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findCycle, partGraph } from './import-graph.ts';

const src = resolve(import.meta.dirname, '../../../src');
const graph = partGraph(src);
const importsOf = (part: string): string[] => [...(graph.get(part) ?? [])].sort();

describe('the import graph of src', () => {
  it('has no cycle between parts', () => {
    expect(findCycle(graph)).toBeUndefined();
  });

  it('keeps src/kube below operator, jobs, runtime, cli, client and web', () => {
    for (const above of ['operator', 'jobs', 'runtime', 'cli', 'client', 'web']) {
      expect(importsOf('kube'), `kube imports ${above}`).not.toContain(above);
    }
  });

  it('gives operator, jobs and cli their Kubernetes machinery from src/kube', () => {
    expect(importsOf('operator')).toContain('kube');
    expect(importsOf('jobs')).toContain('kube');
    expect(importsOf('cli')).toContain('kube');
  });

  it('detects a cycle when there is one (the check itself can fail)', () => {
    const cyclic = new Map([
      ['jobs', new Set(['operator'])],
      ['operator', new Set(['kube', 'jobs'])],
    ]);
    expect(findCycle(cyclic)).toEqual(['jobs', 'operator', 'jobs']);
  });
});
