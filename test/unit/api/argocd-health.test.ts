import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseInferenceJob, parseModelDeployment } from '../../../src/api/index.ts';
import { runHealthScript, toLua } from './lua.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const customizations = join(root, 'argocd', 'resource_customizations', 'kinfer.dev');
const lua = 'lua5.1';

interface HealthTest {
  healthStatus: { status: string; message?: string };
  inputPath: string;
}

describe('Lua harness', () => {
  it('runs a real Lua 5.1', () => {
    const result = spawnSync(lua, ['-v'], { encoding: 'utf8' });
    expect(result.error, 'lua5.1 is missing: .ci/run installs Debian lua5.1').toBeUndefined();
    expect(`${result.stdout}${result.stderr}`).toContain('Lua 5.1');
  });

  it('turns JSON into the table Argo CD would build, escaping strings', () => {
    expect(toLua({ a: [1, 'x'], b: null, c: true })).toBe('{["a"] = {1, "x"}, ["c"] = true}');
    const tricky = 'quote " backslash \\ newline \n tab \t nul \u0000 café ✓';
    const script = join(import.meta.dirname, 'echo.lua.txt');
    expect(runHealthScript(lua, script, { message: tricky }).message).toBe(tricky);
  });
});

for (const kind of readdirSync(customizations).sort()) {
  const dir = join(customizations, kind);
  const script = join(dir, 'health.lua');
  const { tests } = parse(readFileSync(join(dir, 'health_test.yaml'), 'utf8')) as { tests: HealthTest[] };
  const parseObject = kind === 'ModelDeployment' ? parseModelDeployment : parseInferenceJob;

  describe(`${kind} health.lua`, () => {
    it('covers Healthy, Progressing and Degraded, and every testdata file', () => {
      expect(new Set(tests.map((t) => t.healthStatus.status))).toEqual(
        new Set(['Healthy', 'Progressing', 'Degraded']),
      );
      expect(new Set(tests.map((t) => t.inputPath))).toEqual(
        new Set(readdirSync(join(dir, 'testdata')).map((file) => `testdata/${file}`)),
      );
    });

    it.each(tests.map((t) => [t.inputPath, t] as const))('%s', (_, test) => {
      const object = parse(readFileSync(join(dir, test.inputPath), 'utf8'));
      // Sample objects are real: they pass the same schema the apiserver enforces.
      expect(() => parseObject(object)).not.toThrow();
      expect(runHealthScript(lua, script, object)).toEqual({
        status: test.healthStatus.status,
        message: test.healthStatus.message,
      });
    });

    it('never reports Healthy for an object the operator has not seen', () => {
      const object = parse(readFileSync(join(dir, 'testdata', 'no_status.yaml'), 'utf8'));
      for (const status of [undefined, {}, { conditions: [] }]) {
        expect(runHealthScript(lua, script, { ...object, status }).status).toBe('Progressing');
      }
    });
  });
}

describe('argocd-cm snippet', () => {
  it('embeds exactly the health scripts in resource_customizations', () => {
    const cm = parse(readFileSync(join(root, 'argocd', 'argocd-cm.yaml'), 'utf8'));
    for (const kind of readdirSync(customizations)) {
      expect(cm.data[`resource.customizations.health.kinfer.dev_${kind}`]).toBe(
        readFileSync(join(customizations, kind, 'health.lua'), 'utf8'),
      );
    }
  });
});
