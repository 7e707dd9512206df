// What can be checked of the Tiltfile without Tilt (no Docker, no cluster here): the object
// fragments of its k8s_resource calls against what kustomize renders, as Tilt v0.37 resolves them,
// and its dev image against the live update that writes into it.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const root = join(import.meta.dirname, '..', '..', '..');
const tiltfile = readFileSync(join(root, 'Tiltfile'), 'utf8');
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: {
    selector?: Record<string, string>;
    template?: { metadata?: { labels?: Record<string, string> } };
  };
}

const quoted = (text: string): string[] => [...text.matchAll(/'([^']*)'/g)].map((m) => m[1]!);

/** Every directory the Tiltfile renders with kustomize(), rendered as `kubectl kustomize` does. */
function rendered(): K8sObject[] {
  const dirs = [...tiltfile.matchAll(/kustomize\('([^']+)'\)/g)].map((m) => m[1]!);
  expect(dirs).toContain('config/default');
  return dirs.flatMap((dir) => {
    const result = spawnSync('kubectl', ['kustomize', dir], { cwd: root, encoding: 'utf8' });
    expect(result.error, 'kubectl is needed (kustomize is built into it)').toBeUndefined();
    expect(result.status, result.stderr).toBe(0);
    return parseAllDocuments(result.stdout).map((doc) => doc.toJS() as K8sObject);
  });
}

/**
 * The fragments Tilt accepts for an object, lowercased: name, name:kind, name:kind:namespace,
 * name:kind:namespace:group (namespace "default" when the object has none, group "core" for the
 * core API).
 */
function fragmentsOf(object: K8sObject): string[] {
  const group = object.apiVersion.includes('/') ? object.apiVersion.split('/')[0]! : 'core';
  const parts = [object.metadata.name, object.kind, object.metadata.namespace ?? 'default', group];
  return parts.map((_, i) =>
    parts
      .slice(0, i + 1)
      .join(':')
      .toLowerCase(),
  );
}

/**
 * Tilt groups a Service with the workload whose pod template labels its (non-empty) selector
 * matches, in the same namespace, before any k8s_resource(objects=...) is applied; such a Service
 * is no longer available to name in objects=.
 */
function attachedToWorkload(service: K8sObject, objects: K8sObject[]): boolean {
  const selector = Object.entries(service.spec?.selector ?? {});
  if (service.kind !== 'Service' || selector.length === 0) return false;
  return objects.some((workload) => {
    const labels = workload.spec?.template?.metadata?.labels;
    if (!labels) return false;
    const sameNamespace =
      service.metadata.namespace === undefined || service.metadata.namespace === workload.metadata.namespace;
    return sameNamespace && selector.every(([key, value]) => labels[key] === value);
  });
}

describe('Tiltfile', () => {
  const objects = rendered();
  const fragments = [...tiltfile.matchAll(/objects=\[([^\]]*)\]/g)].flatMap((m) => quoted(m[1]!));

  it('names in objects= only objects kustomize renders, each exactly once, none Tilt has already taken', () => {
    expect(fragments.length).toBeGreaterThan(5);
    expect(new Set(fragments).size, 'a fragment named twice').toBe(fragments.length);
    for (const fragment of fragments) {
      const matches = objects.filter((object) => fragmentsOf(object).includes(fragment.toLowerCase()));
      expect(
        matches.map((m) => `${m.kind}/${m.metadata.name}`),
        fragment,
      ).toHaveLength(1);
      expect(attachedToWorkload(matches[0]!, objects), `${fragment} is attached to its workload`).toBe(false);
    }
  });

  it('the check would catch a Service that Tilt attaches to the operator Deployment', () => {
    const service = objects.find(
      (o) => o.kind === 'Service' && o.metadata.name === 'kinfer-operator-metrics',
    );
    expect(service).toBeDefined();
    expect(attachedToWorkload(service!, objects)).toBe(true);
  });

  it("the dev image's dist/ belongs to the user it runs as, where live update syncs it", () => {
    const lines = quoted(/dockerfile_contents='\\n'\.join\(\[([\s\S]*?)\]\)/.exec(tiltfile)?.[1] ?? '');
    const user = lines.find((line) => line.startsWith('USER '))?.slice('USER '.length);
    expect(user, 'the dev image runs as a numeric non-root user').toMatch(/^[1-9][0-9]*:[1-9][0-9]*$/);
    const workdir = lines.find((line) => line.startsWith('WORKDIR '))?.slice('WORKDIR '.length);
    const syncs = [...tiltfile.matchAll(/sync\('([^']+)', '([^']+)'\)/g)].map((m) => ({
      from: m[1]!,
      to: m[2]!,
    }));
    expect(syncs.length).toBeGreaterThan(0);
    for (const { from, to } of syncs) {
      const copy = lines.find((line) => {
        const match = /^COPY (.*) (\S+)$/.exec(line);
        if (!match) return false;
        const destination = match[2]!.replace(/^\.\//, `${workdir}/`).replace(/\/$/, '');
        return destination === to && match[1]!.split(' ').includes(from);
      });
      expect(copy, `the dev image copies ${from} to ${to}`).toBeDefined();
      expect(copy, 'the synced directory is owned by the image user').toContain(`--chown=${user}`);
    }
  });

  it('the dev image starts from the base image of the Dockerfile, the Node line of .nvmrc', () => {
    const major = readFileSync(join(root, '.nvmrc'), 'utf8').trim().split('.')[0];
    const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1];
    expect(base).toBe(`node:${major}-bookworm-slim`);
    expect(tiltfile).toContain(`'FROM ${base}'`);
  });

  it('compiles with the incremental dev build', () => {
    expect(tiltfile).toContain("cmd='npm run --silent build:dev'");
  });
});
