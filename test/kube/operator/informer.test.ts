import { afterAll, beforeAll, expect, it } from 'vitest';
import { KubeClient } from '../../../src/kube/client.ts';
import { Informer, type InformerEvent } from '../../../src/kube/informer.ts';
import { ConfigMaps, type KubeObject } from '../../../src/kube/resources.ts';
import { testKubeConfig, testKubeconfigPath, useTestNamespace } from '../../support/kube.ts';
import { kubectl, until } from './support.ts';

const namespace = useTestNamespace('op-informer');
let client: KubeClient;
let informer: Informer;
const events: InformerEvent<KubeObject>[] = [];

beforeAll(async () => {
  client = new KubeClient(testKubeConfig());
  await kubectl(testKubeconfigPath(), ['create', 'configmap', 'first', '-n', namespace()]);
  informer = new Informer({ client, type: ConfigMaps, namespace: namespace(), pageSize: 1 });
  informer.onEvent((event) => events.push(event));
  informer.start();
  await informer.waitForSync();
});
afterAll(async () => {
  await informer?.stop();
  client?.close();
});

it('lists (paginated), then sees changes through its watch', async () => {
  expect(informer.get(`${namespace()}/first`)?.kind).toBe('ConfigMap');
  await kubectl(testKubeconfigPath(), ['create', 'configmap', 'second', '-n', namespace()]);
  await until('the watch to deliver the new ConfigMap', async () => informer.get(`${namespace()}/second`));
  expect(informer.stats.lists).toBe(1);
});

it('relists on 410 Gone, keeps watching afterwards, and matches the apiserver', async () => {
  const listsBefore = informer.stats.lists;
  // Resuming from resourceVersion 1 is long expired: the apiserver answers 410 Gone.
  informer.restartWatch('1');
  await until('a relist', async () => informer.stats.lists > listsBefore);
  expect(informer.stats.restarts.gone).toBeGreaterThanOrEqual(1);
  await kubectl(testKubeconfigPath(), ['delete', 'configmap', 'first', '-n', namespace()]);
  await until('the deletion to arrive', async () => informer.get(`${namespace()}/first`) === undefined);
  expect(events.some((e) => e.type === 'DELETED' && e.object.metadata.name === 'first')).toBe(true);
  // After the relist the cache matches the apiserver exactly.
  const names = informer
    .list()
    .map((cm) => cm.metadata.name)
    .sort();
  const actual = (await kubectl(testKubeconfigPath(), ['get', 'configmaps', '-n', namespace(), '-o', 'name']))
    .trim()
    .split('\n')
    .map((line) => line.replace('configmap/', ''))
    .sort();
  expect(names).toEqual(actual);
});
