/**
 * Operator benchmark: N ModelDeployments (default 1,000) on the test control plane with kwok, against
 * two baselines measured in the same run: creating the N Deployments directly (the issue's
 * baseline), and creating the N Deployments and N Services directly (like for like: what the
 * operator itself has to get the cluster to do). Prints time until all are Ready and the ratios,
 * what each phase cost the control plane (CPU per component; kube-controller-manager's requests,
 * seconds per controller and rate-limiter waits), the operator's API requests per verb and
 * resource, its writes in an idle minute afterwards, its CPU-seconds per reconcile and its memory.
 * kube-controller-manager runs with --kube-api-qps 100 --kube-api-burst 100 in all phases
 * (KINFER_BENCH_KCM_QPS sets both; 20 is close to its built-in 20/30).
 *
 *   npm run bench:operator                  # 1,000
 *   KINFER_BENCH_MDS=5000 npm run bench:operator
 *   KINFER_BENCH_MDS=200 KINFER_BENCH_IDLE_MS=10000 npm run bench:operator   # a quick look
 *   KINFER_BENCH_KCM_QPS=20 npm run bench:operator   # kube-controller-manager's built-in budget
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ModelDeploymentSpecSchema } from '../src/api/modeldeployment.ts';
import { KubeClient } from '../src/kube/client.ts';
import { Informer } from '../src/kube/informer.ts';
import {
  Deployments,
  keyOf,
  ModelDeployments,
  type ResourceType,
  resourcePath,
  Services,
} from '../src/kube/resources.ts';
import {
  defaultPredictorConfig,
  desiredDeployment,
  desiredService,
} from '../src/operator/modeldeployment/desired.ts';
import { startControlPlane } from '../test/support/controlplane.ts';
import {
  type ClusterReading,
  clusterDifference,
  describeClusterCost,
  readCluster,
} from './support/cluster-cost.ts';
import { cpuSeconds } from './support/load.ts';

// biome-ignore lint/suspicious/noExplicitAny: untyped list items from the API
type Json = any;

const N = Number(process.env.KINFER_BENCH_MDS ?? 1000);
/** The operator's --concurrency (reconciles in flight), when not its default. */
const operatorConcurrency = process.env.KINFER_BENCH_OPERATOR_CONCURRENCY;
const CONCURRENCY = 16;
const root = resolve(import.meta.dirname, '..');

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

async function pool<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

async function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

/**
 * Resolves once `ready` holds for N objects of a namespace, counted from one list and watch (an
 * informer), the same way in both phases. A LIST every second instead re-reads every object each
 * time: at 5,000 ModelDeployments one took 5-14 s of a loaded apiserver, a load that grows with
 * N and that the operator, whose reconciles wait on that apiserver, felt more than the baseline.
 */
async function waitForReady(
  client: KubeClient,
  type: ResourceType,
  namespace: string,
  ready: (object: Json) => boolean,
  label: string,
): Promise<void> {
  const deadlineMs = Number(process.env.KINFER_BENCH_TIMEOUT_MS ?? 20 * 60_000);
  const informer = new Informer<Json>({ client, type, namespace });
  const done = new Set<string>();
  let last = -1;
  const report = () => {
    if (done.size === last) return;
    last = done.size;
    log(`${label}: ${last}/${N} ready`);
  };
  const progress = setInterval(report, 1000);
  let deadline: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolvePromise, reject) => {
      deadline = setTimeout(
        () =>
          reject(
            new Error(`${label}: only ${done.size}/${N} ready after ${Math.round(deadlineMs / 1000)} s`),
          ),
        deadlineMs,
      );
      informer.onEvent(({ type: event, object }) => {
        const key = keyOf(object.metadata);
        if (event !== 'DELETED' && ready(object)) done.add(key);
        else done.delete(key);
        if (done.size >= N) resolvePromise();
      });
      informer.start();
    });
  } finally {
    clearTimeout(deadline);
    clearInterval(progress);
    report();
    await informer.stop();
  }
}

/** Sums of the operator's counters: API requests by "VERB resource", reconciles, writes. */
async function scrape(metricsPort: number): Promise<{ requests: Map<string, number>; reconciles: number }> {
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const requests = new Map<string, number>();
  let reconciles = 0;
  for (const line of metrics.split('\n')) {
    const request =
      /^kinfer_operator_api_requests_total\{verb="([^"]+)",resource="([^"]+)",code="([^"]+)"\} (\S+)$/.exec(
        line,
      );
    if (request) {
      const key = `${request[1]} ${request[2]}`;
      requests.set(key, (requests.get(key) ?? 0) + Number(request[4]));
    }
    const reconcile = /^kinfer_operator_reconcile_total\{[^}]*\} (\S+)$/.exec(line);
    if (reconcile) reconciles += Number(reconcile[1]);
  }
  return { requests, reconciles };
}

const writesOf = (requests: Map<string, number>): number =>
  [...requests.entries()]
    .filter(([key]) => !/^(GET|LIST|WATCH) /.test(key))
    .reduce((sum, [, value]) => sum + value, 0);

const kib = (pid: number, field: string): number => {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : Number.NaN;
};

/**
 * kube-controller-manager's client budget for this run, the same for all phases. By default that
 * of Kubernetes' own 5,000-node scalability tests (--kube-api-qps 100 --kube-api-burst 100)
 * rather than its built-in 20/30, which a cluster holding thousands of Deployments is not run
 * with; KINFER_BENCH_KCM_QPS=20 (burst = qps) gives back roughly the built-in budget.
 */
function controllerManagerApi(): { qps: number; burst: number } {
  const qps = process.env.KINFER_BENCH_KCM_QPS ?? '100';
  const value = Number(qps);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`KINFER_BENCH_KCM_QPS: a positive number, not ${qps}`);
  return { qps: value, burst: value };
}

interface PhaseResult {
  createMs: number;
  readyMs: number;
  cost?: ClusterReading;
}

async function main(): Promise<void> {
  // KINFER_BENCH_KUBECONFIG: use a running cluster (with at least 3N pods of fake-node capacity).
  const reuse = process.env.KINFER_BENCH_KUBECONFIG;
  const kcmApi = controllerManagerApi();
  log(reuse ? `using the cluster of ${reuse}` : `starting a control plane for ${N} ModelDeployments`);
  const controlPlane = reuse
    ? undefined
    : await startControlPlane({
        nodes: Math.ceil((3 * N) / 100) + 1,
        controllerManagerApi: kcmApi,
      });
  const kubeconfigPath = reuse ?? controlPlane!.kubeconfigPath;
  let operatorPid: number | undefined;
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    const client = new KubeClient(kc);
    for (const name of ['bench-baseline', 'bench-baseline-services', 'bench-operator']) {
      await client.request('POST', '/api/v1/namespaces', {
        body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
      });
    }
    const spec = ModelDeploymentSpecSchema.parse({
      model: { name: 'mnist-cnn', source: { builtin: 'mnist-cnn' } },
      replicas: 1,
    });
    const names = Array.from({ length: N }, (_, i) => `md-${i}`);
    /** The children the operator makes for md `name`, without the owner reference (nothing owns them). */
    const children = (name: string, namespace: string) => {
      const md = {
        apiVersion: 'kinfer.dev/v1alpha1',
        kind: 'ModelDeployment',
        metadata: { name, namespace, uid: 'x' },
        spec,
      } as const;
      const deployment = desiredDeployment(md, { ...defaultPredictorConfig, image: 'kinfer:bench' });
      const service = desiredService(md);
      delete deployment.metadata?.ownerReferences;
      delete service.metadata?.ownerReferences;
      return { deployment, service };
    };
    const deploymentAvailable = (d: Json) =>
      d.status?.availableReplicas === 1 && d.status.observedGeneration === d.metadata.generation;

    /** Creates N objects (16 at a time), then waits until all N are ready; with what it cost the cluster. */
    const phase = async (
      label: string,
      create: (name: string) => Promise<void>,
      ready: { type: ResourceType; namespace: string; check: (object: Json) => boolean },
    ): Promise<PhaseResult> => {
      const before = controlPlane ? await readCluster(controlPlane) : undefined;
      const start = performance.now();
      await pool(names, CONCURRENCY, create);
      const createMs = performance.now() - start;
      await waitForReady(client, ready.type, ready.namespace, ready.check, label);
      const readyMs = performance.now() - start;
      const after = controlPlane ? await readCluster(controlPlane) : undefined;
      return { createMs, readyMs, ...(before && after ? { cost: clusterDifference(after, before) } : {}) };
    };

    // The issue's baseline: the same Deployments, created directly.
    const baseline = await phase(
      'baseline',
      async (name) => {
        await client.request('POST', resourcePath(Deployments, { namespace: 'bench-baseline' }), {
          body: children(name, 'bench-baseline').deployment,
        });
      },
      { type: Deployments, namespace: 'bench-baseline', check: deploymentAvailable },
    );
    // Like for like: the same Deployments AND Services, created directly: everything the operator
    // has the cluster do (a Service brings the endpoints and EndpointSlice controllers' work).
    const withServices = await phase(
      'baseline+services',
      async (name) => {
        const { deployment, service } = children(name, 'bench-baseline-services');
        await client.request('POST', resourcePath(Deployments, { namespace: 'bench-baseline-services' }), {
          body: deployment,
        });
        await client.request('POST', resourcePath(Services, { namespace: 'bench-baseline-services' }), {
          body: service,
        });
      },
      { type: Deployments, namespace: 'bench-baseline-services', check: deploymentAvailable },
    );

    // The operator, as its own process.
    const metricsPort = await freePort();
    const operator = spawn(
      process.execPath,
      [
        resolve(root, 'bin/kinfer.js'),
        'operator',
        '--namespaces',
        'bench-operator',
        '--metrics-port',
        String(metricsPort),
        '--metrics-host',
        '127.0.0.1',
        ...(operatorConcurrency ? ['--concurrency', operatorConcurrency] : []),
      ],
      {
        env: {
          ...process.env,
          KUBECONFIG: kubeconfigPath,
          KINFER_IMAGE: 'kinfer:bench',
          KINFER_LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    operatorPid = operator.pid;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${metricsPort}/readyz`).then(
        async (r) => {
          await r.body?.cancel();
          return r.ok;
        },
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const idleRssKiB = kib(operator.pid!, 'VmRSS');
    const cpuAtStart = cpuSeconds(operator.pid!);
    const operated = await phase(
      'operator',
      async (name) => {
        await client.request('POST', resourcePath(ModelDeployments, { namespace: 'bench-operator' }), {
          body: {
            apiVersion: 'kinfer.dev/v1alpha1',
            kind: 'ModelDeployment',
            metadata: { name, namespace: 'bench-operator' },
            spec: { model: spec.model, replicas: 1 },
          },
        });
      },
      {
        type: ModelDeployments,
        namespace: 'bench-operator',
        check: (md) => md.status?.conditions?.some((c: Json) => c.type === 'Ready' && c.status === 'True'),
      },
    );
    const cpuAtReady = cpuSeconds(operator.pid!);
    const rssKiB = kib(operator.pid!, 'VmRSS');
    const hwmKiB = kib(operator.pid!, 'VmHWM');
    const { requests, reconciles } = await scrape(metricsPort);

    // Idle: everything Ready and nothing changing. The operator must write nothing.
    const idleMs = Number(process.env.KINFER_BENCH_IDLE_MS ?? 60_000);
    log(`idle for ${idleMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 5_000));
    const idleStart = await scrape(metricsPort);
    const cpuIdleStart = cpuSeconds(operator.pid!);
    await new Promise((r) => setTimeout(r, idleMs));
    const idleEnd = await scrape(metricsPort);
    const idleWrites = writesOf(idleEnd.requests) - writesOf(idleStart.requests);
    const idleCpu = cpuSeconds(operator.pid!) - cpuIdleStart;
    operator.kill('SIGTERM');
    await new Promise((r) => operator.once('exit', r));
    operatorPid = undefined;

    const total = [...requests.values()].reduce((a, b) => a + b, 0);
    const cpu = cpuAtReady - cpuAtStart;
    const seconds = (ms: number) => (ms / 1000).toFixed(1);
    const costLines = (result: PhaseResult) => (result.cost ? describeClusterCost(result.cost, N) : []);
    const budget = reuse
      ? 'as the reused cluster has it'
      : `--kube-api-qps ${kcmApi.qps} --kube-api-burst ${kcmApi.burst}${process.env.KINFER_BENCH_KCM_QPS ? ' (KINFER_BENCH_KCM_QPS)' : ' (the bench default)'}`;
    const out = [
      `operator benchmark: ${N} ModelDeployments (1 replica each) on kube-apiserver + kwok, ${CONCURRENCY} concurrent creates`,
      `kube-controller-manager client budget, per controller, all phases alike: ${budget}`,
      `operator reconciles in flight: ${operatorConcurrency ? `--concurrency ${operatorConcurrency} (KINFER_BENCH_OPERATOR_CONCURRENCY)` : 'its default'}`,
      "phases run one after the other in one cluster, each in its own namespace; earlier phases' objects stay",
      '',
      `baseline           (create ${N} Deployments directly):              created in ${seconds(baseline.createMs)} s, all Available after ${seconds(baseline.readyMs)} s`,
      ...costLines(baseline),
      `baseline+services  (create ${N} Deployments and ${N} Services directly): created in ${seconds(withServices.createMs)} s, all Available after ${seconds(withServices.readyMs)} s`,
      ...costLines(withServices),
      `operator           (create ${N} ModelDeployments):                  created in ${seconds(operated.createMs)} s, all Ready after ${seconds(operated.readyMs)} s`,
      ...costLines(operated),
      `ratio     operator / baseline time to ready:           ${(operated.readyMs / baseline.readyMs).toFixed(2)}x  (the issue's baseline: Deployments only)`,
      `ratio     operator / baseline+services time to ready:  ${(operated.readyMs / withServices.readyMs).toFixed(2)}x  (like for like: the Deployments and Services the operator makes)`,
      `ratio     baseline+services / baseline time to ready:  ${(withServices.readyMs / baseline.readyMs).toFixed(2)}x  (what the Services alone cost the cluster)`,
      '',
      `operator API requests: ${total} total, ${(total / N).toFixed(2)} per ModelDeployment`,
      ...[...requests.entries()]
        .sort()
        .map(
          ([key, value]) =>
            `  ${key.padEnd(36)} ${String(value).padStart(6)}  (${(value / N).toFixed(2)} / MD)`,
        ),
      '',
      `operator CPU until all Ready: ${cpu.toFixed(1)} CPU-s for ${reconciles} reconciles = ${((cpu / reconciles) * 1000).toFixed(2)} CPU-ms per reconcile (${(reconciles / N).toFixed(2)} reconciles per MD)`,
      `operator idle for ${(idleMs / 1000).toFixed(0)} s after all Ready: ${idleWrites} writes, ${idleEnd.reconciles - idleStart.reconciles} reconciles, ${idleCpu.toFixed(2)} CPU-s`,
      '',
      `operator memory: RSS ${(idleRssKiB / 1024).toFixed(0)} MiB idle -> ${(rssKiB / 1024).toFixed(0)} MiB with ${N} MDs (peak ${(hwmKiB / 1024).toFixed(0)} MiB), ${((rssKiB - idleRssKiB) / N).toFixed(1)} KiB per MD`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    if (operatorPid) process.kill(operatorPid, 'SIGKILL');
    await controlPlane?.stop();
  }
}

await main();
