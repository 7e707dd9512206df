import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../support/controlplane.ts';
import { e2eCluster, kubectl, podsOf, useE2eNamespace } from '../../support/e2e.ts';
import { waitFor } from '../../support/kube.ts';
import {
  condition,
  getObject,
  installOperator,
  type KinferObject,
  readyWith,
  runClient,
  waitForCondition,
  watchObjects,
} from './support.ts';

interface ServeResult {
  labels: number[];
  v2: number[];
  v2Pod: string;
  predict: number[];
  drawn: number;
  ws: number[];
}

interface PodState {
  metadata: { name: string; resourceVersion: string };
  status?: { conditions?: { type: string; status: string }[] };
}

const correct = (predictions: number[], labels: number[]) =>
  predictions.filter((p, i) => p === labels[i]).length;
const predictorSelector = (name: string) =>
  `app.kubernetes.io/component=predictor,app.kubernetes.io/instance=${name}`;
const revision = (object: { metadata: { resourceVersion?: string } }) =>
  Number(object.metadata.resourceVersion);
const podReady = (pod: PodState) =>
  pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

// config/samples applied as the README says, served by real predictor pods on the real node and
// reached by an in-cluster client through the DNS names in status.endpoints.
describe('config/samples on the real node: serve', () => {
  const namespace = useE2eNamespace('serve');
  let mdWatch: ReturnType<typeof watchObjects<KinferObject>>;
  let podWatch: ReturnType<typeof watchObjects<PodState>>;
  let appliedAt = 0;

  beforeAll(async () => {
    await installOperator();
    // Both watches run before anything exists, so every version of both is seen.
    mdWatch = watchObjects<KinferObject>(namespace(), ['md', '--field-selector', 'metadata.name=mnist']);
    podWatch = watchObjects<PodState>(namespace(), ['pods', '-l', predictorSelector('mnist')]);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    appliedAt = Date.now();
    // The ModelDeployments only: the InferenceJob samples are the jobs test's.
    for (const file of ['modeldeployment_minimal', 'modeldeployment_full']) {
      await kubectl([
        'apply',
        '--server-side',
        '-n',
        namespace(),
        '-f',
        `${repoRoot}/config/samples/kinfer_v1alpha1_${file}.yaml`,
      ]);
    }
  });
  afterAll(() => {
    mdWatch?.stop();
    podWatch?.stop();
  });

  it('kubectl wait --for=condition=Ready passes only once the predictor passed its real readiness probe', async () => {
    await kubectl(['wait', '-n', namespace(), '--for=condition=Ready', 'md/mnist', '--timeout=180s'], {
      timeoutMs: 190_000,
    });
    const elapsedMs = Date.now() - appliedAt;
    const [pod] = await podsOf(namespace(), predictorSelector('mnist'));
    expect(pod?.spec?.nodeName).toBe(e2eCluster().node.name);
    expect(pod?.status?.containerStatuses?.[0]?.ready).toBe(true);
    process.stderr.write(`e2e serve: kubectl apply to md/mnist Ready in ${elapsedMs} ms on the real node\n`);

    // Replay both watches in the order the apiserver stored the versions: whenever the
    // ModelDeployment said Ready=True, a pod had already been stored Ready (a pod update precedes
    // the Deployment's, which precedes ours). The order is the resourceVersion, which on this
    // cluster's one etcd is its revision, one counter for all resources; the order in which two
    // kubectl processes happen to print their events is not it on a busy machine.
    await waitFor('the watches caught up', async () =>
      mdWatch.seen.some((e) => condition(e.object, 'Ready')?.status === 'True') ? true : undefined,
    );
    const events = [
      ...mdWatch.seen.map((e) => ({ ...e, kind: 'md' as const })),
      ...podWatch.seen.map((e) => ({ ...e, kind: 'pod' as const })),
    ].sort((a, b) => revision(a.object) - revision(b.object));
    const pods = new Map<string, boolean>();
    let readyWhileNoPodReady = 0;
    let sawNotReady = false;
    for (const event of events) {
      if (event.kind === 'pod') {
        const state = event.object as PodState;
        pods.set(state.metadata.name, podReady(state));
        continue;
      }
      const ready = condition(event.object as KinferObject, 'Ready')?.status;
      if (ready === 'False') sawNotReady = true;
      if (ready === 'True' && ![...pods.values()].some(Boolean)) readyWhileNoPodReady++;
    }
    expect(sawNotReady).toBe(true);
    expect(readyWhileNoPodReady).toBe(0);
    // And the pod was seen not Ready before it was Ready: the probe, not the kubelet, decided.
    expect(podWatch.seen.some((e) => !podReady(e.object))).toBe(true);
  });

  it('answers an in-cluster client at the DNS names of status.endpoints: V2, /v1/predict and /ws', async () => {
    const md = await getObject(namespace(), 'md', 'mnist');
    const rest = md.status?.endpoints?.rest ?? '';
    expect(rest).toBe(`http://mnist.${namespace()}.svc.cluster.local:8080`);
    expect(md.status?.endpoints?.websocket).toBe(`ws://mnist.${namespace()}.svc.cluster.local:8080/ws`);
    const result = await runClient<ServeResult>(namespace(), 'client-serve', { KINFER_URL: rest });
    // The first 100 MNIST test digits; the model is 99% accurate on the whole set.
    expect(correct(result.v2, result.labels)).toBeGreaterThanOrEqual(97);
    expect(
      correct(result.predict, [result.labels[0] ?? -1, ...result.labels.slice(0, 20)]),
    ).toBeGreaterThanOrEqual(20);
    expect(correct(result.ws, result.labels.slice(0, 20))).toBeGreaterThanOrEqual(19);
    expect(result.drawn).toBe(7);
    const [pod] = await podsOf(namespace(), predictorSelector('mnist'));
    expect(result.v2Pod).toBe(pod?.metadata.name);
  });

  it('with spec.server.authSecretRef, serves with the token and refuses without it (401, 1008)', async () => {
    await kubectl(['wait', '-n', namespace(), '--for=condition=Ready', 'md/mnist-full', '--timeout=180s'], {
      timeoutMs: 190_000,
    });
    const md = await getObject(namespace(), 'md', 'mnist-full');
    const rest = md.status?.endpoints?.rest ?? '';
    const token = 'change-me-kinfer-sample-token'; // config/samples' Secret
    const served = await runClient<ServeResult>(namespace(), 'client-token', {
      KINFER_URL: rest,
      KINFER_TOKEN: token,
    });
    expect(correct(served.v2, served.labels)).toBeGreaterThanOrEqual(97);
    expect(served.drawn).toBe(7);
    const refused = await runClient<{ v2: number; predict: number; wsClose: number }>(
      namespace(),
      'client-no-token',
      { KINFER_URL: rest, KINFER_CLIENT_MODE: 'unauthorized' },
    );
    expect(refused).toEqual({ v2: 401, predict: 401, wsClose: 1008 });
  });

  it('kubectl scale md/mnist --replicas 3: three Ready pods, each answering through the Service', async () => {
    await kubectl(['scale', '-n', namespace(), 'md/mnist', '--replicas', '3']);
    const md = await waitForCondition(namespace(), 'md', 'mnist', readyWith(3), '3 replicas Ready');
    const pods = (await podsOf(namespace(), predictorSelector('mnist'))).filter(
      (pod) => pod.status?.containerStatuses?.[0]?.ready,
    );
    expect(pods).toHaveLength(3);
    const result = await runClient<{ servedBy: Record<string, number>; failed: number }>(
      namespace(),
      'client-pods',
      { KINFER_URL: md.status?.endpoints?.rest ?? '', KINFER_CLIENT_MODE: 'pods', KINFER_REQUESTS: '90' },
    );
    expect(result.failed).toBe(0);
    expect(Object.keys(result.servedBy).sort()).toEqual(pods.map((pod) => pod.metadata.name).sort());
  });
});
