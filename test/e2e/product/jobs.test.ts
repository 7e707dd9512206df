import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { repoRoot } from '../../support/controlplane.ts';
import {
  apply,
  e2eCluster,
  getJson,
  kinferPod,
  kubectl,
  useE2eNamespace,
  waitForPhase,
} from '../../support/e2e.ts';
import { waitFor } from '../../support/kube.ts';
import {
  clientPod,
  clientResult,
  condition,
  installOperator,
  type KinferObject,
  waitForCondition,
} from './support.ts';

const sample = (file: string) => `${repoRoot}/config/samples/kinfer_v1alpha1_${file}.yaml`;

interface JobPod {
  metadata: { name: string };
  spec: { nodeName?: string };
  status: { containerStatuses?: { state?: { terminated?: { exitCode: number; reason?: string } } }[] };
}

interface PreviewsResult {
  progress: number;
  previews: { at: number; images: number }[];
  end: { type: string; summary?: { result: { accuracy?: number } } };
}

const succeeded = (object: KinferObject) => condition(object, 'Succeeded')?.status === 'True';
const finished = (object: KinferObject) => {
  const status = condition(object, 'Succeeded')?.status;
  if (status === 'False')
    throw new Error(`job ${object.metadata.name} failed: ${JSON.stringify(object.status)}`);
  return status === 'True';
};

// The InferenceJob samples as real Job pods on the real node, followed from inside the cluster.
describe('config/samples on the real node: inference jobs', () => {
  const namespace = useE2eNamespace('jobs');
  // The full sample with a short TTL and more digits, so a watcher can join while it runs.
  const PREVIEW_INTERVAL_MS = 200;
  const watched = (() => {
    const full = parseYaml(readFileSync(sample('inferencejob_full'), 'utf8')) as {
      metadata: { name: string };
      spec: Record<string, unknown>;
    };
    return {
      ...full,
      metadata: { name: 'watched' },
      spec: {
        ...full.spec,
        // Long enough for a dozen previews even when the runner is fast (10,000+ images/s on a
        // quiet machine): at 200 ms a run of 40,000 digits lasts 4 s there, under a minute loaded.
        input: { synthetic: { count: 40000, seed: 7 }, limit: 40000 },
        batchSize: 32,
        previewIntervalMs: PREVIEW_INTERVAL_MS,
        ttlSecondsAfterFinished: 10,
      },
    };
  })();

  beforeAll(async () => {
    await installOperator();
    for (const file of ['modeldeployment_minimal', 'inferencejob_minimal', 'inferencejob_full']) {
      await kubectl(['apply', '--server-side', '-n', namespace(), '-f', sample(file)]);
    }
  });

  it('runs the samples as Job pods on the real node; status.result has the measured accuracy', async () => {
    const mnistTest = await waitForCondition(namespace(), 'ij', 'mnist-test', finished, 'Succeeded', 240_000);
    const synthetic = await waitForCondition(namespace(), 'ij', 'synthetic-digits', finished, 'Succeeded');
    expect(succeeded(mnistTest) && succeeded(synthetic)).toBe(true);
    const total = (o: KinferObject) =>
      ((o.status?.result?.classCounts ?? []) as number[]).reduce((a, b) => a + b, 0);
    expect(total(mnistTest)).toBe(10000);
    expect(mnistTest.status?.result?.accuracy).toBeGreaterThan(0.98);
    for (const job of [mnistTest, synthetic]) {
      const { accuracy, imagesPerSecond } = (job.status?.result ?? {}) as {
        accuracy: number;
        imagesPerSecond: number;
      };
      process.stderr.write(
        `e2e jobs: ${job.metadata.name} accuracy ${(accuracy * 100).toFixed(2)}%, ${Math.round(imagesPerSecond)} images/s\n`,
      );
    }
    expect(total(synthetic)).toBe(2000);
    expect(synthetic.status?.result?.accuracy).toBeGreaterThan(0.5);
    for (const name of ['mnist-test', 'synthetic-digits']) {
      const pods = (
        await getJson<{ items: JobPod[] }>(['get', 'pods', '-n', namespace(), '-l', `job-name=${name}`])
      ).items;
      expect(pods.length).toBeGreaterThanOrEqual(1);
      const last = pods.at(-1);
      expect(last?.spec.nodeName).toBe(e2eCluster().node.name);
      // The runner lingers (30 s) so clients read the end, then exits 0.
      await waitForPhase(namespace(), last?.metadata.name ?? '', 'Succeeded', 90_000);
    }
  });

  it('kinfer watch job NAME --url <status.previewEndpoint>, in the cluster, sees progress, previews and the summary', async () => {
    // The URL status.previewEndpoint will hold (asserted below). The watchers start first and
    // retry until the runner answers, so they see the whole run however fast it goes.
    const url = `ws://watched-preview.${namespace()}.svc.cluster.local:8080/ws/jobs/watched`;
    await apply(
      namespace(),
      kinferPod('kinfer-watch', {
        args: ['watch', 'job', 'watched', '-n', namespace(), '--url', url, '--columns', '80'],
        // A terminal, as a user has: the progress bar and the mosaic of the latest digits.
        tty: true,
      }),
    );
    await clientPod(namespace(), 'client-previews', { KINFER_URL: url, KINFER_CLIENT_MODE: 'previews' });
    for (const pod of ['kinfer-watch', 'client-previews']) await waitForPhase(namespace(), pod, 'Running');
    await apply(namespace(), watched);
    const running = await waitForCondition(
      namespace(),
      'ij',
      'watched',
      (object) => Boolean(object.status?.previewEndpoint) && condition(object, 'Ready')?.status === 'True',
      'its preview endpoint live',
    );
    expect(running.status?.previewEndpoint).toBe(url);
    // Read while it exists: the short TTL deletes it moments after it finished.
    const outcome = waitForCondition(namespace(), 'ij', 'watched', finished, 'Succeeded');
    const previews = await clientResult<PreviewsResult>(namespace(), 'client-previews');
    const ij = await outcome;
    await waitForPhase(namespace(), 'kinfer-watch', 'Succeeded');
    const screen = await kubectl(['logs', '-n', namespace(), 'kinfer-watch']);
    expect(screen).toMatch(/100%/);
    expect(screen).toMatch(/[▀▄█]/); // the mosaic, drawn with half blocks
    expect(screen).toMatch(/accuracy/i);

    expect(previews.progress).toBeGreaterThan(0);
    expect(previews.end.type).toBe('completed');
    expect(previews.end.summary?.result.accuracy).toBe(ij.status?.result?.accuracy);
    // Previews came at the spec's interval while the job ran. The first gap (the preview a new
    // client gets at once is a replay) and the last (the preview flushed at completion) fall
    // outside the rhythm, so only the gaps between them are judged, by their median (seen on a
    // quiet machine with the whole list judged: 4 previews, median 304 ms at a 500 ms interval).
    const gaps = previews.previews.slice(1).map((p, i) => p.at - (previews.previews[i]?.at ?? 0));
    const inner = gaps.slice(1, -1);
    expect(inner.length).toBeGreaterThanOrEqual(3);
    const median = [...inner].sort((a, b) => a - b)[Math.floor(inner.length / 2)] ?? 0;
    process.stderr.write(
      `e2e jobs: ${gaps.length + 1} previews, median gap ${median.toFixed(0)} ms between the first and the last (interval ${PREVIEW_INTERVAL_MS})\n`,
    );
    expect(median).toBeGreaterThan(PREVIEW_INTERVAL_MS * 0.8);
    expect(median).toBeLessThan(PREVIEW_INTERVAL_MS * 1.8);
  });

  it('deletes the finished job, its Job and its Service ttlSecondsAfterFinished later', async () => {
    const gone = async (kind: string, name: string) =>
      (await kubectl(['get', kind, '-n', namespace(), name, '--ignore-not-found', '-o', 'name'])).trim() ===
      '';
    await waitFor(
      'InferenceJob watched, Job watched and Service watched-preview deleted',
      async () =>
        (await gone('ij', 'watched')) &&
        (await gone('job', 'watched')) &&
        (await gone('service', 'watched-preview'))
          ? true
          : undefined,
      { timeoutMs: 90_000, intervalMs: 1000 },
    );
    // The samples with an hour's TTL are still there.
    expect(await gone('ij', 'mnist-test')).toBe(false);
  });
});
