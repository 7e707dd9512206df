// Argo CD's and kstatus's own code (test/gitops, built once into the cache) judge every object in
// test/gitops/objects.ts: the status computeStatus writes in each scenario, and edge cases.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { expectationFor, unusedRows } from '../../gitops/expectations.ts';
import { judgedObjects } from '../../gitops/testdata.ts';
import { argoCdConfigMap, ensureJudges, type Judgement, judge } from '../../support/gitops-judges.ts';

const objects = judgedObjects();
let binary: string;
let judgements: Judgement[];

beforeAll(async () => {
  ({ binary } = await ensureJudges((path) => console.log(`building the GitOps judges into ${path}`)));
  judgements = judge(
    binary,
    objects.map((o) => o.object),
  );
}, 60 * 60_000);

describe('GitOps judges', () => {
  it('have one expectation row per object, and no row without an object', () => {
    for (const { kind, what } of objects) expect(() => expectationFor(kind, what)).not.toThrow();
    expect(unusedRows(new Set(objects.map(({ kind, what }) => `${kind}: ${what}`)))).toEqual([]);
  });

  it.each(objects.map((o, index) => [`${o.kind}: ${o.what}`, o, index] as const))(
    '%s',
    (_, object, index) => {
      const expected = expectationFor(object.kind, object.what);
      const { argocd, kstatus } = judgements[index] as Judgement;
      expect({ argocd, kstatus }).toEqual({
        argocd: { status: expected.argocd[0], message: expected.argocd[1] },
        kstatus: { status: expected.kstatus[0], message: expected.kstatus[1] },
      });
    },
  );
});

describe('Argo CD judge', () => {
  // A script using the string library, as health.lua once did: Argo CD opens it only when the
  // argocd-cm says useOpenLibs for the kind. The judge must respect that, or it proves nothing.
  const withScript = (useOpenLibs: boolean | undefined): string => {
    const cm = parse(readFileSync(argoCdConfigMap, 'utf8'));
    cm.data['resource.customizations.health.kinfer.dev_InferenceJob'] =
      'return { status = "Healthy", message = string.format("%d%%", 99) }';
    if (useOpenLibs !== undefined)
      cm.data['resource.customizations.useOpenLibs.kinfer.dev_InferenceJob'] = String(useOpenLibs);
    const path = join(mkdtempSync(join(tmpdir(), 'kinfer-argocd-cm-')), 'argocd-cm.yaml');
    writeFileSync(path, stringify(cm));
    return path;
  };
  const aJob = () => objects.filter((o) => o.kind === 'InferenceJob').map((o) => o.object)[0];

  it('runs argocd-cm scripts without the string library unless useOpenLibs is set', () => {
    for (const config of [withScript(undefined), withScript(false)]) {
      const [{ argocd }] = judge(binary, [aJob()], config) as [Judgement];
      // string is nil in the sandbox: indexing it for format fails.
      expect(argocd.error).toMatch(/nil.*format/);
      expect(argocd.status).toBeUndefined();
    }
    const [{ argocd }] = judge(binary, [aJob()], withScript(true)) as [Judgement];
    expect(argocd).toEqual({ status: 'Healthy', message: '99%' });
  });
});
