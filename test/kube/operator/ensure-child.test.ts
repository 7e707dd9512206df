import { beforeAll, describe, expect, it } from 'vitest';
import { ensureChild } from '../../../src/kube/children.ts';
import { KubeClient, type RequestRecord } from '../../../src/kube/client.ts';
import { appliedFields } from '../../../src/kube/drift.ts';
import {
  ConfigMaps,
  controllerReference,
  type KubeObject,
  resourcePath,
  Services,
} from '../../../src/kube/resources.ts';
import { testKubeConfig, useTestNamespace } from '../../support/kube.ts';

// ensureChild on a real apiserver, request by request: a missing child costs one request (a
// server-side apply that may only create), an existing one is read only when that create is
// refused, and an object it does not control is never written to.
const namespace = useTestNamespace('ensure-child');
const records: RequestRecord[] = [];
let client: KubeClient;
let owner: KubeObject;

beforeAll(async () => {
  client = new KubeClient(testKubeConfig(), { onRequest: (record) => records.push(record) });
  owner = await client.request<KubeObject>('POST', resourcePath(ConfigMaps, { namespace: namespace() }), {
    body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner', namespace: namespace() } },
  });
  owner = { ...owner, apiVersion: 'v1', kind: 'ConfigMap' };
});

const service = (name: string, annotations: Record<string, string>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: namespace(), annotations, ownerReferences: [controllerReference(owner)] },
  spec: { selector: { app: name }, ports: [{ port: 80 }] },
});
const getService = (name: string) =>
  client.request<KubeObject>('GET', resourcePath(Services, { namespace: namespace(), name }));
/** The requests `work` sent, as "VERB code". */
async function requestsOf(work: () => Promise<unknown>): Promise<string[]> {
  const from = records.length;
  await work();
  return records.slice(from).map(({ verb, code }) => `${verb} ${code}`);
}

describe('ensureChild', () => {
  it('creates a missing child with one request, owning its fields by apply (removals reach it later)', async () => {
    let outcome: Awaited<ReturnType<typeof ensureChild>> | undefined;
    const sent = await requestsOf(async () => {
      outcome = await ensureChild({
        client,
        type: Services,
        owner,
        desired: service('fresh', { a: '1', b: '2' }),
      });
    });
    expect(sent).toEqual(['PATCH 201']);
    expect(outcome?.kind).toBe('created');
    const created = await getService('fresh');
    expect(appliedFields(created, 'kinfer-operator')).toBeDefined();

    // Drift: an annotation dropped from the desired object leaves the child.
    const next = await ensureChild({
      client,
      type: Services,
      owner,
      desired: service('fresh', { a: '1' }),
      cached: created,
    });
    expect(next.kind).toBe('updated');
    expect((await getService('fresh')).metadata.annotations).toEqual({ a: '1' });
  });

  it('reads an existing child of its own only after the create is refused, and leaves it alone when current', async () => {
    let outcome: Awaited<ReturnType<typeof ensureChild>> | undefined;
    const sent = await requestsOf(async () => {
      // Not in the (lagging) cache: the create is refused, the read shows it is ours and current.
      outcome = await ensureChild({ client, type: Services, owner, desired: service('fresh', { a: '1' }) });
    });
    expect(sent).toEqual(['PATCH 409', 'GET 200']);
    expect(outcome?.kind).toBe('unchanged');
  });

  it('never writes to an object of that name it does not control', async () => {
    const theirs = await client.request<KubeObject>(
      'POST',
      resourcePath(Services, { namespace: namespace() }),
      {
        body: {
          apiVersion: 'v1',
          kind: 'Service',
          // The very fields the child would have, so an apply without force would merge into it.
          metadata: { name: 'theirs', namespace: namespace(), annotations: { a: '1' } },
          spec: { selector: { app: 'theirs' }, ports: [{ port: 80 }] },
        },
        query: { fieldManager: 'someone' },
      },
    );
    let outcome: Awaited<ReturnType<typeof ensureChild>> | undefined;
    const sent = await requestsOf(async () => {
      outcome = await ensureChild({ client, type: Services, owner, desired: service('theirs', { a: '1' }) });
    });
    expect(sent).toEqual(['PATCH 409', 'GET 200']);
    expect(outcome).toEqual({
      kind: 'conflict',
      message: 'Service theirs exists and is not controlled by this ConfigMap (controller: none)',
    });
    const still = await getService('theirs');
    expect(still.metadata.resourceVersion).toBe(theirs.metadata.resourceVersion);
    expect(still.metadata.ownerReferences).toBeUndefined();
  });
});
