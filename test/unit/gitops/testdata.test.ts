// The committed Argo CD testdata and health_test.yaml are exactly what test/gitops writes from
// computeStatus (so they cannot drift from the operator), and argocd-cm embeds the health scripts.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseInferenceJob, parseModelDeployment } from '../../../src/api/index.ts';
import { customizationsDir, judgedObjects, renderTestdata } from '../../gitops/testdata.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const kinds = readdirSync(join(root, customizationsDir)).sort();

describe('Argo CD testdata', () => {
  const files = renderTestdata();

  it('are the committed files, and nothing else (`npm run gitops:testdata` rewrites them)', () => {
    for (const [path, text] of files) expect(readFileSync(join(root, path), 'utf8'), path).toBe(text);
    const committed = kinds.flatMap((kind) =>
      readdirSync(join(root, customizationsDir, kind, 'testdata')).map(
        (file) => `${customizationsDir}/${kind}/testdata/${file}`,
      ),
    );
    expect(committed.sort()).toEqual([...files.keys()].filter((path) => path.includes('/testdata/')).sort());
  });

  it('hold objects the apiserver would accept, wherever the operator wrote the status', () => {
    for (const { kind, what, object } of judgedObjects().filter((o) => !o.edge)) {
      const parseObject = kind === 'ModelDeployment' ? parseModelDeployment : parseInferenceJob;
      expect(() => parseObject(object), `${kind}: ${what}`).not.toThrow();
    }
  });

  it('cover Healthy, Progressing and Degraded for each kind', () => {
    for (const kind of kinds) {
      const { tests } = parse(files.get(`${customizationsDir}/${kind}/health_test.yaml`) as string);
      expect(new Set(tests.map((t: { healthStatus: { status: string } }) => t.healthStatus.status))).toEqual(
        new Set(['Healthy', 'Progressing', 'Degraded']),
      );
    }
  });
});

describe('argocd-cm snippet', () => {
  it('embeds exactly the health scripts in resource_customizations', () => {
    const cm = parse(readFileSync(join(root, 'argocd', 'argocd-cm.yaml'), 'utf8'));
    for (const kind of kinds) {
      expect(cm.data[`resource.customizations.health.kinfer.dev_${kind}`]).toBe(
        readFileSync(join(root, customizationsDir, kind, 'health.lua'), 'utf8'),
      );
    }
  });
});
