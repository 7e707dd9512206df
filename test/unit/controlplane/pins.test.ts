import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { controlPlaneModuleDir, readPinnedVersions } from '../../support/controlplane-build.ts';

// The committed go.mod is what CI builds; versions.env is what people edit. generate.sh derives
// one from the other, and these checks catch an edit to either side without regenerating.
describe('test control plane pins', () => {
  it('go.mod requires exactly the Kubernetes and kwok versions pinned in versions.env', async () => {
    const versions = await readPinnedVersions();
    const goMod = await readFile(join(controlPlaneModuleDir, 'go.mod'), 'utf8');
    expect(goMod).toMatch(
      new RegExp(`^\\s+k8s\\.io/kubernetes ${versions.kubernetes.replaceAll('.', '\\.')}$`, 'm'),
    );
    expect(goMod).toMatch(
      new RegExp(`^\\s+sigs\\.k8s\\.io/kwok ${versions.kwok.replaceAll('.', '\\.')}$`, 'm'),
    );
  });

  it('every k8s.io replace points at the staging release matching the Kubernetes version', async () => {
    const versions = await readPinnedVersions();
    const staging = `v0.${versions.kubernetes.replace(/^v1\./, '')}`;
    const goMod = await readFile(join(controlPlaneModuleDir, 'go.mod'), 'utf8');
    const replaces = [...goMod.matchAll(/^replace (k8s\.io\/\S+) => (\S+) (\S+)$/gm)];
    // Kubernetes 1.33 has 31 staging modules; fewer would mean a truncated generate.sh run.
    expect(replaces.length).toBeGreaterThanOrEqual(25);
    for (const [, from, to, version] of replaces) {
      expect({ from, to, version }).toEqual({ from, to: from, version: staging });
    }
    // No other replace sneaks in (a local path would make CI builds differ from the proxy's).
    expect(goMod.match(/^replace /gm)?.length).toBe(replaces.length);
  });

  it("coredns/go.mod requires the pinned CoreDNS with the cluster's k8s.io twins", async () => {
    const versions = await readPinnedVersions();
    const staging = `v0.${versions.kubernetes.replace(/^v1\./, '')}`;
    const goMod = await readFile(join(controlPlaneModuleDir, 'coredns', 'go.mod'), 'utf8');
    expect(goMod).toMatch(
      new RegExp(`^require github\\.com/coredns/coredns ${versions.coredns.replaceAll('.', '\\.')}$`, 'm'),
    );
    const replaces = [...goMod.matchAll(/^replace (k8s\.io\/\S+) => (\S+) (\S+)$/gm)];
    expect(replaces.map(([, from]) => from)).toContain('k8s.io/client-go');
    for (const [, from, to, version] of replaces) {
      expect({ from, to, version }).toEqual({ from, to: from, version: staging });
    }
  });

  it('versions.env rejects a line that is not a version', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kinfer-pins-'));
    try {
      await writeFile(join(dir, 'versions.env'), 'KUBERNETES_VERSION=latest\nKWOK_VERSION=v0.7.0\n');
      await expect(readPinnedVersions(dir)).rejects.toThrow(/KUBERNETES_VERSION/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
