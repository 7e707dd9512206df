import { describe, expect, it } from 'vitest';
import {
  apply,
  e2eCluster,
  followLogs,
  getJson,
  kinferPod,
  kubectl,
  podsOf,
  useE2eNamespace,
  waitForPhase,
} from '../support/e2e.ts';
import { waitFor } from '../support/kube.ts';

// `kinfer runtime` in real pods on the real node: readiness decided by the runtime's own probe,
// a Service reached by its DNS name from another pod, kubectl logs/exec through the kubelet, and a
// pod deletion that SIGTERMs kinfer (PID 1) and drains within the grace period.
describe('kinfer runtime on the real node', () => {
  const namespace = useE2eNamespace('runtime');

  function deployment(name: string, readinessPort: number | string): object {
    const cluster = e2eCluster();
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            nodeSelector: cluster.node.nodeSelector,
            terminationGracePeriodSeconds: 20,
            securityContext: { runAsNonRoot: true },
            containers: [
              {
                name: 'kinfer',
                image: cluster.image,
                imagePullPolicy: 'Never',
                ports: [{ name: 'http', containerPort: 8080 }],
                readinessProbe: {
                  httpGet: { path: '/readyz', port: readinessPort },
                  periodSeconds: 1,
                  failureThreshold: 1,
                },
              },
            ],
          },
        },
      },
    };
  }

  it('becomes Available only once the runtime answers its readiness probe', async () => {
    await apply(
      namespace(),
      deployment('runtime', 'http'),
      // Not named `kinfer`: Kubernetes would give every pod of the namespace KINFER_PORT=tcp://...
      // (service links), which kinfer reads as its --port.
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'runtime' },
        spec: { selector: { app: 'runtime' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
      },
      // The same pod with its probe on a port nothing listens on: Running, never Ready (on kwok it
      // would be Ready at once).
      deployment('unprobed', 9),
    );
    await kubectl(['rollout', 'status', '-n', namespace(), 'deployment/runtime', '--timeout=180s'], {
      timeoutMs: 190_000,
    });
    const [pod] = await podsOf(namespace(), 'app=runtime');
    expect(pod?.spec?.nodeName).toBe(e2eCluster().node.name);
    expect(pod?.status?.containerStatuses?.[0]?.ready).toBe(true);
    // The pod IP is on the node's bridge, and the host reaches it directly.
    const response = await fetch(`http://${pod?.status?.podIP}:8080/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ready' });

    const [unprobed] = await waitFor('the unprobed pod Running', async () => {
      const pods = await podsOf(namespace(), 'app=unprobed');
      return pods[0]?.status?.phase === 'Running' ? pods : undefined;
    });
    expect(unprobed?.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
  });

  it('answers another pod through its Service by DNS name', async () => {
    const url = `http://runtime.${namespace()}.svc.cluster.local/readyz`;
    await apply(
      namespace(),
      kinferPod('client', {
        command: ['node', '-e'],
        args: [
          `fetch(${JSON.stringify(url)}).then(async (r) => { console.log(r.status, await r.text()); process.exit(r.ok ? 0 : 1); }, (e) => { console.error(e); process.exit(1); })`,
        ],
      }),
    );
    await waitForPhase(namespace(), 'client', 'Succeeded');
    const logs = await kubectl(['logs', '-n', namespace(), 'client']);
    expect(logs).toMatch(/^200 .*"status":"ready"/);
  });

  it('shows its logs and runs commands in the container (kubectl logs, kubectl exec)', async () => {
    const logs = await kubectl(['logs', '-n', namespace(), 'deployment/runtime']);
    expect(logs).toContain('"event":"server.listening"');
    const pid1 = await kubectl([
      'exec',
      '-n',
      namespace(),
      'deployment/runtime',
      '--',
      'cat',
      '/proc/1/cmdline',
    ]);
    // PID 1 is kinfer itself (no shell between it and the kubelet's signals), run again in place by
    // the runtime with its young generation (--max-semi-space-mb, default 16; src/runtime/heap-flags.ts).
    expect(pid1.split('\0').filter(Boolean)).toEqual([
      '/usr/local/bin/node',
      '--max-semi-space-size=16',
      '/app/bin/kinfer.js',
      'runtime',
    ]);
    expect(logs).toContain('"event":"runtime.heap"');
    const uid = await kubectl(['exec', '-n', namespace(), 'deployment/runtime', '--', 'id', '-u']);
    expect(Number(uid.trim())).toBeGreaterThan(0);
  });

  it('drains within the grace period when its pod is deleted (SIGTERM reaches kinfer as PID 1)', async () => {
    const [pod] = await podsOf(namespace(), 'app=runtime');
    const name = pod?.metadata.name as string;
    const logs = followLogs(namespace(), name);
    await waitFor('kubectl logs -f attached', async () =>
      logs.output().includes('server.listening') ? true : undefined,
    );
    const started = Date.now();
    await kubectl(['delete', 'pod', '-n', namespace(), name, '--grace-period=20', '--wait=true'], {
      timeoutMs: 60_000,
    });
    const elapsedMs = Date.now() - started;
    await logs.done;
    expect(logs.output()).toContain('"signal":"SIGTERM"');
    // Well within the 20 s grace period: kinfer stopped by itself, the kubelet did not SIGKILL it.
    expect(elapsedMs).toBeLessThan(15_000);
    const events = await getJson<{ items: { reason: string; message: string }[] }>([
      'get',
      'events',
      '-n',
      namespace(),
      '--field-selector',
      `involvedObject.name=${name}`,
    ]);
    expect(events.items.map((event) => event.reason)).toContain('Killing');
  });
});
