import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apply, kinferPod, kubectl, useE2eNamespace } from '../../support/e2e.ts';
import { waitFor } from '../../support/kube.ts';
import {
  clientPod,
  clientResult,
  condition,
  getObject,
  installOperator,
  type KinferObject,
  waitForCondition,
  watchObjects,
} from './support.ts';

const builtinSha = '5e0ffa0e9cf9dc9a15db84913ab0dc23a46dd6c3b10c57e284589a4875eaedfa';

interface LoadResult {
  durationMs: number;
  rest: { ok: number; failed: number; retried: number; wrong: number; errors: string[]; perSecond: number };
  ws: {
    answered: number;
    wrong: number;
    resubmitted: number;
    closeCodes: Record<string, number>;
    failedConnects: Record<string, number>;
    errors: string[];
  };
}

const settled = (replicas: number) => (o: KinferObject) =>
  o.status?.observedGeneration === o.metadata.generation &&
  o.status?.readyReplicas === replicas &&
  (o.status as { updatedReplicas?: number }).updatedReplicas === replicas &&
  (o.status as { replicas?: number }).replicas === replicas &&
  condition(o, 'Ready')?.status === 'True';

// Changes to a ModelDeployment while an in-cluster client sends V2 requests without pause and ten
// /ws sessions keep drawing: no request fails, sessions the server closes get 1001 and, through
// the typed client's reconnect, every drawing still gets its answer.
describe('rollouts under load on the real node', () => {
  const namespace = useE2eNamespace('rollout');
  let mdWatch: ReturnType<typeof watchObjects<KinferObject>>;

  beforeAll(async () => {
    await installOperator();
    await apply(
      namespace(),
      {
        apiVersion: 'kinfer.dev/v1alpha1',
        kind: 'ModelDeployment',
        metadata: { name: 'mnist' },
        spec: { model: { name: 'mnist-cnn', source: { builtin: 'mnist-cnn' } }, replicas: 2 },
      },
      // An in-cluster model server: the image's own model file over plain HTTP.
      kinferPod(
        'models',
        {
          command: ['node', '-e'],
          args: [
            "require('node:http').createServer((q, r) => q.url === '/mnist-cnn.onnx' ? require('node:fs').createReadStream('/app/models/mnist-cnn/model.onnx').pipe(r) : r.writeHead(404).end()).listen(8080)",
          ],
          ports: [{ containerPort: 8080 }],
        },
        {},
        { app: 'models' },
      ),
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'models' },
        spec: { selector: { app: 'models' }, ports: [{ port: 80, targetPort: 8080 }] },
      },
    );
    await waitForCondition(namespace(), 'md', 'mnist', settled(2), '2 replicas Ready');
    mdWatch = watchObjects<KinferObject>(namespace(), ['md', '--field-selector', 'metadata.name=mnist']);
  });
  afterAll(() => mdWatch?.stop());

  it('serves every request and every drawing through a new setting, 2 → 3 → 1 replicas and a new model URI', async () => {
    const md = await getObject(namespace(), 'md', 'mnist');
    await clientPod(namespace(), 'load', {
      KINFER_URL: md.status?.endpoints?.rest ?? '',
      KINFER_CLIENT_MODE: 'load',
    });
    await waitFor('the load running', async () =>
      (await kubectl(['get', 'pod', '-n', namespace(), 'load', '-o', 'jsonpath={.status.phase}'])) ===
      'Running'
        ? true
        : undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 5000));

    // Ready is kstatus's Current: True only once what runs is the spec (Deployment semantics:
    // InProgress while fewer pods are updated or ready than desired, or more exist). A rollout or a
    // scale-up waits for new pods to start, so Ready goes False for seconds; a scale-down is done as
    // soon as the extra pods are terminating (they no longer count), so its False, if any, is too
    // brief to require: what every step must show is that Ready is never True for the new
    // generation before its pods are exactly the spec's.
    const steps: { name: string; spec: object; replicas: number; readyGoesFalse: boolean }[] = [
      {
        name: 'batching',
        spec: { batching: { maxBatchSize: 16, maxDelayMs: 5 } },
        replicas: 2,
        readyGoesFalse: true,
      },
      { name: 'replicas 3', spec: { replicas: 3 }, replicas: 3, readyGoesFalse: true },
      { name: 'replicas 1', spec: { replicas: 1 }, replicas: 1, readyGoesFalse: false },
      {
        name: 'model URI',
        spec: {
          model: {
            name: 'mnist-cnn',
            source: { builtin: null, uri: `http://models.${namespace()}.svc.cluster.local/mnist-cnn.onnx` },
            sha256: builtinSha,
          },
        },
        replicas: 1,
        readyGoesFalse: true,
      },
    ];
    const timings: string[] = [];
    const readySeen: string[] = [];
    for (const step of steps) {
      const from = mdWatch.seen.length;
      const started = Date.now();
      await kubectl([
        'patch',
        'md',
        '-n',
        namespace(),
        'mnist',
        '--type',
        'merge',
        '-p',
        JSON.stringify({ spec: step.spec }),
      ]);
      const done = await waitForCondition(
        namespace(),
        'md',
        'mnist',
        settled(step.replicas),
        `settled after ${step.name}`,
      );
      timings.push(`${step.name} ${Date.now() - started} ms`);
      // Every version up to the settled one, as the watch delivered them.
      await waitFor(`the watch to deliver ${step.name} settled`, async () =>
        mdWatch.seen.slice(from).some((e) => settled(step.replicas)(e.object)) ? true : undefined,
      );
      const versions = mdWatch.seen
        .slice(from)
        .map((e) => e.object)
        .filter((o) => o.status?.observedGeneration === done.metadata.generation);
      const statuses = versions.map((o) => condition(o, 'Ready')?.status ?? '-');
      readySeen.push(`${step.name}: ${statuses.join(' ')}`);
      for (const version of versions.filter((o) => condition(o, 'Ready')?.status === 'True')) {
        expect(
          settled(step.replicas)(version),
          `${step.name}: Ready True at ${JSON.stringify(version.status)}`,
        ).toBe(true);
      }
      if (step.readyGoesFalse) expect(statuses, step.name).toContain('False');
      expect(statuses.at(-1), step.name).toBe('True');
    }
    await kubectl(['exec', '-n', namespace(), 'load', '--', 'touch', '/tmp/stop']);
    const result = await clientResult<LoadResult>(namespace(), 'load');
    process.stderr.write(`e2e rollout: Ready per status write: ${readySeen.join('; ')}\n`);
    process.stderr.write(
      `e2e rollout: ${timings.join(', ')}; ${result.rest.ok + result.rest.failed} V2 requests in ${result.durationMs} ms (${result.rest.perSecond}/s), ${result.rest.failed} failed, ${result.rest.retried} retried once; /ws ${result.ws.answered} drawings answered, ${result.ws.resubmitted} resubmitted, closes of started sessions ${JSON.stringify(result.ws.closeCodes)}, connection attempts that never started ${JSON.stringify(result.ws.failedConnects)}\n`,
    );
    expect(result.rest.errors).toEqual([]);
    expect(result.rest.failed).toBe(0);
    expect(result.rest.wrong).toBe(0);
    expect(result.rest.perSecond).toBeGreaterThanOrEqual(10);
    expect(result.ws.errors).toEqual([]);
    expect(result.ws.wrong).toBe(0);
    expect(result.ws.answered).toBeGreaterThan(100);
    // Replicas went away during the run: their sessions were closed with 1001, and only so.
    expect(Object.keys(result.ws.closeCodes).filter((code) => code !== '1001')).toEqual([]);
    expect(result.ws.closeCodes['1001'] ?? 0).toBeGreaterThan(0);
  });
});
