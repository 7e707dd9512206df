/**
 * Operator benchmark: N ModelDeployments (default 1,000) on the test control plane with kwok, against
 * two baselines measured in the same run, each phase in a fresh control plane of its own: creating the N Deployments directly (the issue's
 * baseline), and creating the N Deployments and N Services directly (like for like: what the
 * operator itself has to get the cluster to do). Prints time until all are Ready and the ratios,
 * the span over which each phase's Deployments and Services were created, what each phase cost the
 * control plane (CPU per component; kube-apiserver's requests by priority-and-fairness flow and its
 * writes; kube-controller-manager's requests, seconds per controller and rate-limiter waits), the
 * operator's API requests per verb and resource, its writes in an idle minute afterwards, its
 * CPU-seconds per reconcile and its memory.
 * kube-controller-manager runs with --kube-api-qps 100 --kube-api-burst 100 in all phases
 * (KINFER_BENCH_KCM_QPS sets both; 20 is close to its built-in 20/30).
 *
 *   npm run bench:operator                  # 1,000
 *   KINFER_BENCH_MDS=5000 npm run bench:operator
 *   KINFER_BENCH_MDS=200 KINFER_BENCH_IDLE_MS=10000 npm run bench:operator   # a quick look
 *   KINFER_BENCH_KCM_QPS=20 npm run bench:operator   # kube-controller-manager's built-in budget
 *   KINFER_BENCH_OPERATOR_ONLY=1 KINFER_BENCH_OPERATOR_CONCURRENCY=8 npm run bench:operator   # operator phase only
 */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
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
import { type ControlPlane, freePorts, startControlPlane } from '../test/support/controlplane.ts';
import { compiledKinfer } from './support/child.ts';
import { benchChildren, benchSpec } from './support/children.ts';
import {
  type ClusterReading,
  clusterDifference,
  describeClusterCost,
  readCluster,
} from './support/cluster-cost.ts';
import { cpuSeconds } from './support/load.ts';
import { statusKiB } from './support/peak-rss.ts';
import { pool } from './support/pool.ts';

// biome-ignore lint/suspicious/noExplicitAny: untyped list items from the API
type Json = any;

const N = Number(process.env.KINFER_BENCH_MDS ?? 1000);
/** The operator's --concurrency (reconciles in flight), when not its default. */
const operatorConcurrency = process.env.KINFER_BENCH_OPERATOR_CONCURRENCY;
const CONCURRENCY = 16;

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
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
  /** How long creating the phase's Deployments and Services took the cluster, as a report line. */
  children: string;
  cost?: ClusterReading;
}

/**
 * Seconds from the first to the last creationTimestamp (1 s resolution) of a namespace's objects
 * of one type, and their count: how fast the cluster took a phase's Deployments or Services in,
 * whoever sent them (the operator phase's "created in" is only its ModelDeployments).
 */
async function creationSpan(
  client: KubeClient,
  type: ResourceType,
  namespace: string,
): Promise<{ count: number; seconds: number }> {
  const list = await client.request<{ items: Json[] }>('GET', resourcePath(type, { namespace }));
  const times = list.items.map((item) => Date.parse(item.metadata.creationTimestamp));
  if (times.length === 0) return { count: 0, seconds: 0 };
  return { count: times.length, seconds: (Math.max(...times) - Math.min(...times)) / 1000 };
}

async function describeChildren(client: KubeClient, namespace: string): Promise<string> {
  const parts: string[] = [];
  for (const type of [Deployments, Services]) {
    const { count, seconds } = await creationSpan(client, type, namespace);
    if (count > 0) {
      parts.push(
        `${count} ${type.kind}s over ${seconds.toFixed(0)} s (${seconds > 0 ? (count / seconds).toFixed(1) : '-'}/s)`,
      );
    }
  }
  return `  children created (first to last creationTimestamp): ${parts.join(', ') || 'none'}`;
}

/** One phase's cluster: the client, the kubeconfig path, and the control plane when the bench started it. */
interface PhaseCluster {
  client: KubeClient;
  kubeconfigPath: string;
  controlPlane?: ControlPlane;
}

/**
 * Runs one phase in a cluster of its own, in `namespace`: a fresh control plane, so that every phase
 * starts from an empty cluster (with the phases in one cluster, the operator's phase at 5,000 met
 * 10,000 leftover pods, kwok's pod watch fell behind, the apiserver kept closing it, and readiness
 * stalled); or, with KINFER_BENCH_KUBECONFIG, the reused cluster (at least 3N pods of fake-node
 * capacity), where earlier phases' objects stay.
 */
async function inCluster<T>(namespace: string, work: (cluster: PhaseCluster) => Promise<T>): Promise<T> {
  const reuse = process.env.KINFER_BENCH_KUBECONFIG;
  const controlPlane = reuse
    ? undefined
    : await startControlPlane({
        nodes: Math.ceil(N / 100) + 1,
        controllerManagerApi: controllerManagerApi(),
      });
  try {
    const kubeconfigPath = reuse ?? controlPlane!.kubeconfigPath;
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    const client = new KubeClient(kc);
    await client.request('POST', '/api/v1/namespaces', {
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    });
    return await work({ client, kubeconfigPath, ...(controlPlane ? { controlPlane } : {}) });
  } finally {
    await controlPlane?.stop();
  }
}

/** Creates N objects (CONCURRENCY at a time), then waits until all N are ready; with what it cost the cluster. */
async function phase(
  { client, controlPlane }: PhaseCluster,
  label: string,
  create: (name: string) => Promise<void>,
  ready: { type: ResourceType; namespace: string; check: (object: Json) => boolean },
): Promise<PhaseResult> {
  const before = controlPlane ? await readCluster(controlPlane) : undefined;
  const start = performance.now();
  await pool(names, CONCURRENCY, create);
  const createMs = performance.now() - start;
  await waitForReady(client, ready.type, ready.namespace, ready.check, label);
  const readyMs = performance.now() - start;
  const after = controlPlane ? await readCluster(controlPlane) : undefined;
  const children = await describeChildren(client, ready.namespace);
  return {
    createMs,
    readyMs,
    children,
    ...(before && after ? { cost: clusterDifference(after, before) } : {}),
  };
}

const names = Array.from({ length: N }, (_, i) => `md-${i}`);
const deploymentAvailable = (d: Json) =>
  d.status?.availableReplicas === 1 && d.status.observedGeneration === d.metadata.generation;

/** What the operator's phase measures besides its PhaseResult. */
interface OperatorReading {
  result: PhaseResult;
  requests: Map<string, number>;
  reconciles: number;
  cpu: number;
  idleMs: number;
  idleWrites: number;
  idleReconciles: number;
  idleCpu: number;
  idleRssKiB: number;
  rssKiB: number;
  hwmKiB: number;
}

/** The operator, as its own process, reconciling N ModelDeployments; then an idle minute. */
async function operatorPhase(cluster: PhaseCluster): Promise<OperatorReading> {
  const namespace = 'bench-operator';
  const metricsPort = (await freePorts(1))[0]!;
  const operator = spawn(
    process.execPath,
    [
      compiledKinfer(),
      'operator',
      '--namespaces',
      namespace,
      '--metrics-port',
      String(metricsPort),
      '--metrics-host',
      '127.0.0.1',
      ...(operatorConcurrency ? ['--concurrency', operatorConcurrency] : []),
    ],
    {
      env: {
        ...process.env,
        KUBECONFIG: cluster.kubeconfigPath,
        KINFER_IMAGE: 'kinfer:bench',
        KINFER_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const exited = new Promise((r) => operator.once('exit', r));
  try {
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
    const idleRssKiB = statusKiB(operator.pid!, 'VmRSS');
    const cpuAtStart = cpuSeconds(operator.pid!);
    const result = await phase(
      cluster,
      'operator',
      async (name) => {
        await cluster.client.request('POST', resourcePath(ModelDeployments, { namespace }), {
          body: {
            apiVersion: 'kinfer.dev/v1alpha1',
            kind: 'ModelDeployment',
            metadata: { name, namespace },
            spec: { model: benchSpec.model, replicas: 1 },
          },
        });
      },
      {
        type: ModelDeployments,
        namespace,
        check: (md) => md.status?.conditions?.some((c: Json) => c.type === 'Ready' && c.status === 'True'),
      },
    );
    const cpu = cpuSeconds(operator.pid!) - cpuAtStart;
    const rssKiB = statusKiB(operator.pid!, 'VmRSS');
    const hwmKiB = statusKiB(operator.pid!, 'VmHWM');
    const { requests, reconciles } = await scrape(metricsPort);

    // Idle: everything Ready and nothing changing. The operator must write nothing.
    const idleMs = Number(process.env.KINFER_BENCH_IDLE_MS ?? 60_000);
    log(`idle for ${idleMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 5_000));
    const idleStart = await scrape(metricsPort);
    const cpuIdleStart = cpuSeconds(operator.pid!);
    await new Promise((r) => setTimeout(r, idleMs));
    const idleEnd = await scrape(metricsPort);
    const idleCpu = cpuSeconds(operator.pid!) - cpuIdleStart;
    return {
      result,
      requests,
      reconciles,
      cpu,
      idleMs,
      idleWrites: writesOf(idleEnd.requests) - writesOf(idleStart.requests),
      idleReconciles: idleEnd.reconciles - idleStart.reconciles,
      idleCpu,
      idleRssKiB,
      rssKiB,
      hwmKiB,
    };
  } finally {
    operator.kill('SIGTERM');
    const stopped = await Promise.race([
      exited.then(() => true),
      new Promise((r) => setTimeout(r, 10_000, false)),
    ]);
    if (!stopped) operator.kill('SIGKILL');
  }
}

const seconds = (ms: number) => (ms / 1000).toFixed(1);

/**
 * How busy the machine was over a phase: the control plane's CPU-seconds (and the operator's, in
 * its phase) against the cores there were. Near all of them, time to Ready is set by how much work
 * the phase gave the cluster, not by who sent it.
 */
function coresBusy(result: PhaseResult, ownCpuSeconds: number): string {
  const clusterCpu = [...(result.cost?.cpu.values() ?? [])].reduce((a, b) => a + b, 0);
  const total = clusterCpu + ownCpuSeconds;
  const cores = total / (result.readyMs / 1000);
  const own = ownCpuSeconds > 0 ? ` (the operator's ${ownCpuSeconds.toFixed(0)} included)` : '';
  return `  CPU-s in all until Ready: ${total.toFixed(0)}${own}, ${cores.toFixed(2)} of the machine's ${availableParallelism()} cores busy on average`;
}

function baselineLines(
  { baseline, withServices }: { baseline: PhaseResult; withServices: PhaseResult },
  costLines: (result: PhaseResult) => string[],
): string[] {
  return [
    `baseline           (create ${N} Deployments directly):              created in ${seconds(baseline.createMs)} s, all Available after ${seconds(baseline.readyMs)} s`,
    ...costLines(baseline),
    `baseline+services  (create ${N} Deployments and ${N} Services directly): created in ${seconds(withServices.createMs)} s, all Available after ${seconds(withServices.readyMs)} s`,
    ...costLines(withServices),
  ];
}

function ratioLines(
  { baseline, withServices }: { baseline: PhaseResult; withServices: PhaseResult },
  operated: PhaseResult,
): string[] {
  return [
    `ratio     operator / baseline time to ready:           ${(operated.readyMs / baseline.readyMs).toFixed(2)}x  (the issue's baseline: Deployments only)`,
    `ratio     operator / baseline+services time to ready:  ${(operated.readyMs / withServices.readyMs).toFixed(2)}x  (like for like: the Deployments and Services the operator makes)`,
    `ratio     baseline+services / baseline time to ready:  ${(withServices.readyMs / baseline.readyMs).toFixed(2)}x  (what the Services alone cost the cluster)`,
  ];
}

async function main(): Promise<void> {
  const kcmApi = controllerManagerApi();
  const reuse = process.env.KINFER_BENCH_KUBECONFIG;
  log(reuse ? `using the cluster of ${reuse}` : `a fresh control plane per phase, for ${N} ModelDeployments`);

  // KINFER_BENCH_OPERATOR_ONLY: the operator's phase alone, to compare operator settings run after run.
  const baselines = await baselinePhases(!process.env.KINFER_BENCH_OPERATOR_ONLY);
  const operated = await inCluster('bench-operator', operatorPhase);
  report(baselines, operated, kcmApi, reuse);
}

/** The two baselines, each in a cluster of its own; none when not asked for. */
async function baselinePhases(
  wanted: boolean,
): Promise<{ baseline: PhaseResult; withServices: PhaseResult } | undefined> {
  if (!wanted) return undefined;
  // The issue's baseline: the same Deployments, created directly.
  const baseline = await inCluster('bench-baseline', (cluster) =>
    phase(
      cluster,
      'baseline',
      async (name) => {
        await cluster.client.request('POST', resourcePath(Deployments, { namespace: 'bench-baseline' }), {
          body: benchChildren(name, 'bench-baseline').deployment,
        });
      },
      { type: Deployments, namespace: 'bench-baseline', check: deploymentAvailable },
    ),
  );
  // Like for like: the same Deployments AND Services, created directly: everything the operator
  // has the cluster do (a Service brings the endpoints and EndpointSlice controllers' work).
  const withServices = await inCluster('bench-baseline-services', (cluster) =>
    phase(
      cluster,
      'baseline+services',
      async (name) => {
        const namespace = 'bench-baseline-services';
        const { deployment, service } = benchChildren(name, namespace);
        await cluster.client.request('POST', resourcePath(Deployments, { namespace }), { body: deployment });
        await cluster.client.request('POST', resourcePath(Services, { namespace }), { body: service });
      },
      { type: Deployments, namespace: 'bench-baseline-services', check: deploymentAvailable },
    ),
  );
  return { baseline, withServices };
}

function report(
  baselines: { baseline: PhaseResult; withServices: PhaseResult } | undefined,
  operated: OperatorReading,
  kcmApi: { qps: number; burst: number },
  reuse: string | undefined,
): void {
  const { requests, reconciles, cpu } = operated;
  const total = [...requests.values()].reduce((a, b) => a + b, 0);
  const costLines = (result: PhaseResult, ownCpuSeconds = 0) => [
    result.children,
    ...(result.cost ? describeClusterCost(result.cost, N) : []),
    ...(result.cost ? [coresBusy(result, ownCpuSeconds)] : []),
  ];
  const budget = reuse
    ? 'as the reused cluster has it'
    : `--kube-api-qps ${kcmApi.qps} --kube-api-burst ${kcmApi.burst}${process.env.KINFER_BENCH_KCM_QPS ? ' (KINFER_BENCH_KCM_QPS)' : ' (the bench default)'}`;
  const out = [
    `operator benchmark: ${N} ModelDeployments (1 replica each) on kube-apiserver + kwok, ${CONCURRENCY} concurrent creates`,
    `kube-controller-manager client budget, per controller, all phases alike: ${budget}`,
    `operator reconciles in flight: ${operatorConcurrency ? `--concurrency ${operatorConcurrency} (KINFER_BENCH_OPERATOR_CONCURRENCY)` : 'its default'}`,
    reuse
      ? "phases run one after the other in the reused cluster, each in its own namespace; earlier phases' objects stay"
      : 'each phase in a fresh control plane of its own, one after the other',
    '',
    ...(baselines ? baselineLines(baselines, costLines) : ['baselines not run (KINFER_BENCH_OPERATOR_ONLY)']),
    `operator           (create ${N} ModelDeployments):                  created in ${seconds(operated.result.createMs)} s, all Ready after ${seconds(operated.result.readyMs)} s`,
    ...costLines(operated.result, cpu),
    ...(baselines ? ratioLines(baselines, operated.result) : []),
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
    `operator idle for ${(operated.idleMs / 1000).toFixed(0)} s after all Ready: ${operated.idleWrites} writes, ${operated.idleReconciles} reconciles, ${operated.idleCpu.toFixed(2)} CPU-s`,
    '',
    `operator memory: RSS ${(operated.idleRssKiB / 1024).toFixed(0)} MiB idle -> ${(operated.rssKiB / 1024).toFixed(0)} MiB with ${N} MDs (peak ${(operated.hwmKiB / 1024).toFixed(0)} MiB), ${((operated.rssKiB - operated.idleRssKiB) / N).toFixed(1)} KiB per MD`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

await main();
