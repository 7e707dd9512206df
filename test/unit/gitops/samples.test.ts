// The samples Application (argocd/samples) as Argo CD renders it: ModelDeployments are synced
// resources, InferenceJobs PostSync hooks, so that a finished job the operator deletes after its
// TTL is not self-healed back (which would rerun every sample job every hour).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const root = join(import.meta.dirname, '..', '..', '..');

it('syncs ModelDeployments in wave 1 and runs InferenceJobs as PostSync hooks', () => {
  const result = spawnSync('kubectl', ['kustomize', join(root, 'argocd', 'samples')], { encoding: 'utf8' });
  expect(result.error, 'kubectl is missing (the machine image ships it)').toBeUndefined();
  expect(result.status, result.stderr).toBe(0);
  const objects = parseAllDocuments(result.stdout).map((doc) => doc.toJSON());
  const annotations = (kind: string) =>
    objects.filter((o) => o.kind === kind).map((o) => o.metadata.annotations ?? {});
  expect(annotations('ModelDeployment').length).toBeGreaterThan(0);
  for (const a of annotations('ModelDeployment')) {
    expect(a).toEqual({ 'argocd.argoproj.io/sync-wave': '1' });
  }
  expect(annotations('InferenceJob').length).toBeGreaterThan(0);
  for (const a of annotations('InferenceJob')) {
    expect(a).toEqual({
      'argocd.argoproj.io/hook': 'PostSync',
      'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation',
    });
  }
});
