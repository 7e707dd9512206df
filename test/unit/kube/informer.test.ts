import { describe, expect, it } from 'vitest';
import { type KubeClient, TransportError } from '../../../src/kube/client.ts';
import { Informer } from '../../../src/kube/informer.ts';
import { type KubeObject, Pods } from '../../../src/kube/resources.ts';
import type { Logger } from '../../../src/log.ts';

const pod = (name: string, instance: string, resourceVersion: string): KubeObject => ({
  metadata: { name, namespace: 'ml', resourceVersion, labels: { 'app.kubernetes.io/instance': instance } },
});

/**
 * A stand-in for KubeClient's list and watch, with its error behaviour: an exception thrown by
 * the line handler ends the stream as a transport error (as the socket is destroyed with it).
 */
function fakeClient(listed: KubeObject[], watchLines: unknown[][]) {
  let watches = 0;
  return {
    request: async () => ({ metadata: { resourceVersion: '10' }, items: listed }),
    stream: (_path: string, options: { signal?: AbortSignal }, onLine: (line: unknown) => void) =>
      new Promise<void>((_resolve, reject) => {
        options.signal?.addEventListener('abort', () =>
          reject(Object.assign(new Error('aborted'), { name: 'AbortError' })),
        );
        for (const line of watchLines[watches++] ?? []) {
          try {
            onLine(line);
          } catch (error) {
            reject(new TransportError((error as Error).message));
            return;
          }
        }
      }),
  } as unknown as KubeClient;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('Informer', () => {
  it('keeps an index in step with the store through list, modify and delete', async () => {
    const client = fakeClient(
      [pod('p1', 'a', '1'), pod('p2', 'a', '2'), pod('p3', 'b', '3')],
      [
        [
          { type: 'MODIFIED', object: pod('p2', 'b', '11') },
          { type: 'DELETED', object: pod('p1', 'a', '12') },
          { type: 'ADDED', object: pod('p4', 'c', '13') },
        ],
      ],
    );
    const informer = new Informer({ client, type: Pods, namespace: 'ml' });
    informer.addIndex('instance', (p) => [`ml/${p.metadata.labels?.['app.kubernetes.io/instance']}`]);
    informer.start();
    await informer.waitForSync();
    await settle();
    const names = (value: string) =>
      informer
        .byIndex('instance', value)
        .map((p) => p.metadata.name)
        .sort();
    expect(names('ml/a')).toEqual([]);
    expect(names('ml/b')).toEqual(['p2', 'p3']);
    expect(names('ml/c')).toEqual(['p4']);
    // An index added later files what is already there.
    informer.addIndex('name', (p) => [p.metadata.name ?? '']);
    expect(informer.byIndex('name', 'p3').length).toBe(1);
    await informer.stop();
  });

  it('keeps the status code of a watch ERROR event (not wrapped into a transport error)', async () => {
    const warnings: string[] = [];
    const logger = {
      warn: (fields: { err?: string }) => warnings.push(fields.err ?? ''),
    } as unknown as Logger;
    const client = fakeClient(
      [],
      [
        [
          {
            type: 'ERROR',
            object: { kind: 'Status', code: 500, reason: 'InternalError', message: 'etcd is sad' },
          },
        ],
      ],
    );
    const informer = new Informer({ client, type: Pods, namespace: 'ml', logger, backoffInitialMs: 1 });
    informer.start();
    await informer.waitForSync();
    await settle();
    await informer.stop();
    expect(informer.stats.restarts.error).toBe(1);
    expect(warnings[0]).toBe('api_error 500: etcd is sad');
  });
});
