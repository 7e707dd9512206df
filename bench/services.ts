/**
 * Service creates by POST (how bench:operator's like-for-like baseline makes them) and by the
 * operator's own create (`ensureChild`: a server-side apply with a create-only precondition), at
 * the same number of requests in flight, interleaved on one control plane set up as bench:operator
 * sets it up (kube-controller-manager at 100/100, so its endpoint controllers answer every Service).
 * For each variant and number in flight it prints the time of a create at the client and at
 * kube-apiserver, Services per second (and its inverse, the wall time per Service: with a serial
 * step in every create, that step's time), the steps kube-apiserver's metrics time on their own (the ClusterIP allocation, the
 * IPAddress object it POSTs to itself, the etcd requests for the Service, its IPAddress and the
 * allocation bitmap), the priority-and-fairness flow the requests went through with its queue
 * wait, and kube-apiserver's and etcd's CPU per Service; then, from pairs run in the same round,
 * apply / POST at each number in flight and each number in flight against the smallest.
 *
 *   npm run bench:services             # 300 Services per variant and round, 8/16/32 in flight, 3 rounds
 *   KINFER_BENCH_SERVICES=100 KINFER_BENCH_IN_FLIGHT=4,32 KINFER_BENCH_ROUNDS=2 npm run bench:services
 */
import { loadavg } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { percentile } from '../src/jobs/stats.ts';
import { ensureChild } from '../src/kube/children.ts';
import { KubeClient } from '../src/kube/client.ts';
import { type KubeObject, resourcePath, Services } from '../src/kube/resources.ts';
import { type ControlPlane, startControlPlane } from '../test/support/controlplane.ts';
import {
  type Mean,
  type ServiceCreateBreakdown,
  serviceCreateBreakdown,
} from './support/apiserver-breakdown.ts';
import { benchChildren, benchModelDeployment } from './support/children.ts';
import { cpuSeconds } from './support/load.ts';
import { pool } from './support/pool.ts';
import { sumBy } from './support/prometheus.ts';
import { formatSpread, spread } from './support/spread.ts';

function positiveInteger(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = Number(raw ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name}: a positive integer, not ${raw}`);
  return value;
}

const SERVICES = positiveInteger('KINFER_BENCH_SERVICES', 300);
const ROUNDS = positiveInteger('KINFER_BENCH_ROUNDS', 3);
const IN_FLIGHT = (process.env.KINFER_BENCH_IN_FLIGHT ?? '8,16,32').split(',').map((text) => {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`KINFER_BENCH_IN_FLIGHT: comma-separated positive integers, not ${text}`);
  return value;
});
const NAMESPACE = 'bench-services';
const VARIANTS = ['POST', 'APPLY'] as const;
type Variant = (typeof VARIANTS)[number];

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

interface UnitResult {
  variant: Variant;
  inFlight: number;
  round: number;
  clientMs: number[];
  wallMs: number;
  breakdown: ServiceCreateBreakdown;
  /** CPU-milliseconds per Service created, by component. */
  cpuMsPerService: { apiserver: number; etcd: number };
}

const servicesPerSecond = (unit: UnitResult) => (unit.clientMs.length / unit.wallMs) * 1000;
const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;
/** The etcd time of one read and one write of the ClusterIP allocation bitmap (the serial step). */
const bitmapMs = (unit: UnitResult) =>
  ['get', 'update'].reduce(
    (sum, operation) => sum + (unit.breakdown.etcd.get(`${operation} serviceipallocations`)?.meanMs ?? 0),
    0,
  );

/** kube-controller-manager's queues that answer a new Service. */
const ENDPOINT_QUEUES = ['endpoint', 'endpoint_slice', 'endpoint_slice_mirroring'];

/**
 * Waits until kube-controller-manager's endpoint controllers have emptied their queues, so that
 * their writes for one unit's Services are not charged to the next.
 */
async function settle(controlPlane: ControlPlane): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const byQueue = sumBy(await controlPlane.metrics('kube-controller-manager'), 'workqueue_depth', ['name']);
    const depth = ENDPOINT_QUEUES.reduce((sum, name) => sum + (byQueue.get(name) ?? 0), 0);
    if (depth === 0) return;
    if (Date.now() > deadline) {
      log(`warning: kube-controller-manager's endpoint queues still hold ${depth} items after 60 s`);
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function main(): Promise<void> {
  log(`starting a control plane for ${SERVICES * VARIANTS.length * IN_FLIGHT.length * ROUNDS} Services`);
  const loadAtStart = loadavg()[0]!;
  const controlPlane = await startControlPlane({ nodes: 1, controllerManagerApi: { qps: 100, burst: 100 } });
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(controlPlane.kubeconfigPath);
    const client = new KubeClient(kc);
    await client.request('POST', '/api/v1/namespaces', {
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } },
    });
    const owner = benchModelDeployment('bench', NAMESPACE);
    const create: Record<Variant, (name: string) => Promise<void>> = {
      POST: async (name) => {
        await client.request('POST', resourcePath(Services, { namespace: NAMESPACE }), {
          body: benchChildren(name, NAMESPACE).service,
        });
      },
      APPLY: async (name) => {
        const desired = benchChildren(name, NAMESPACE).service as KubeObject;
        const outcome = await ensureChild({ client, type: Services, owner, desired });
        if (outcome.kind !== 'created') {
          throw new Error(
            `apply of Service ${name}: ${outcome.kind === 'failed' || outcome.kind === 'conflict' ? outcome.message : outcome.kind}`,
          );
        }
      },
    };
    const pids = controlPlane.pids();
    const cpu = () => ({ apiserver: cpuSeconds(pids['kube-apiserver']!), etcd: cpuSeconds(pids.etcd!) });

    const runUnit = async (
      variant: Variant,
      inFlight: number,
      round: number,
      count: number,
    ): Promise<UnitResult> => {
      await settle(controlPlane);
      const names = Array.from(
        { length: count },
        (_, i) => `${variant.toLowerCase()}-${inFlight}-${round}-${i}`,
      );
      const metricsBefore = await controlPlane.metrics('kube-apiserver');
      const cpuBefore = cpu();
      const clientMs: number[] = [];
      const start = performance.now();
      await pool(names, inFlight, async (name) => {
        const sent = performance.now();
        await create[variant](name);
        clientMs.push(performance.now() - sent);
      });
      const wallMs = performance.now() - start;
      // The endpoint controllers' answers to these Services are part of what they cost.
      await settle(controlPlane);
      const cpuAfter = cpu();
      const breakdown = serviceCreateBreakdown(
        metricsBefore,
        await controlPlane.metrics('kube-apiserver'),
        variant,
      );
      const unit: UnitResult = {
        variant,
        inFlight,
        round,
        clientMs,
        wallMs,
        breakdown,
        cpuMsPerService: {
          apiserver: ((cpuAfter.apiserver - cpuBefore.apiserver) / count) * 1000,
          etcd: ((cpuAfter.etcd - cpuBefore.etcd) / count) * 1000,
        },
      };
      log(`round ${round}, ${inFlight} in flight, ${variant}: ${describeUnit(unit)}`);
      return unit;
    };

    // Warm-up (not counted): connections, caches, the allocator's informer.
    for (const variant of VARIANTS) await runUnit(variant, IN_FLIGHT[0]!, 0, 50);
    const units: UnitResult[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      // Interleaved: each round starts at another number in flight and alternates which variant
      // goes first, so neither the cluster's growth nor the machine's other load favours one.
      const levels = IN_FLIGHT.map((_, i) => IN_FLIGHT[(i + round - 1) % IN_FLIGHT.length]!);
      for (const inFlight of levels) {
        const order = round % 2 === 1 ? VARIANTS : [...VARIANTS].reverse();
        for (const variant of order) units.push(await runUnit(variant, inFlight, round, SERVICES));
      }
    }
    client.close();
    process.stdout.write(`${report(units, [loadAtStart, loadavg()[0]!]).join('\n')}\n`);
  } finally {
    await controlPlane.stop();
  }
}

const ms = (value: number) => `${value.toFixed(value < 10 ? 1 : 0)} ms`;
const meanText = (value: Mean) => (value.count ? ms(value.meanMs) : 'none');

/** One unit's figures on one line. */
function describeUnit(unit: UnitResult): string {
  const { breakdown: b } = unit;
  const throughput = servicesPerSecond(unit);
  const etcd = [...b.etcd].map(([key, value]) => `${key} ${value.count} x ${ms(value.meanMs)}`).join(', ');
  const flows = [...b.flows]
    .filter(([, value]) => value.count >= unit.clientMs.length / 2)
    .map(([key, value]) => `${key} ${value.count} x ${ms(value.meanMs)} wait`)
    .join(', ');
  return [
    `client ${ms(mean(unit.clientMs))} mean (p50 ${ms(percentile(unit.clientMs, 50))}, p99 ${ms(percentile(unit.clientMs, 99))})`,
    `${throughput.toFixed(1)} Services/s (${ms(1000 / throughput)} each)`,
    `kube-apiserver ${b.requests.count} x ${meanText(b.requests)}, IPAddress allocator ${meanText(b.allocation)} (its IPAddress POST ${meanText(b.ipAddressPosts)})`,
    `etcd: ${etcd || 'none'}`,
    `APF: ${flows || 'none'}`,
    `CPU per Service: kube-apiserver ${ms(unit.cpuMsPerService.apiserver)}, etcd ${ms(unit.cpuMsPerService.etcd)}`,
  ].join('; ');
}

/** Ratios of a figure between two units of the same round, as median (range) over the rounds. */
function pairedRatios(
  units: UnitResult[],
  a: (unit: UnitResult) => boolean,
  b: (unit: UnitResult) => boolean,
  figure: (unit: UnitResult) => number,
): string {
  const ratios: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const x = units.find((unit) => unit.round === round && a(unit));
    const y = units.find((unit) => unit.round === round && b(unit));
    if (x && y) ratios.push(figure(x) / figure(y));
  }
  return formatSpread(spread(ratios), (value) => `${value.toFixed(2)}x`);
}

function report(units: UnitResult[], load: [number, number]): string[] {
  const lines = [
    `Service creates: POST vs the operator's server-side apply, ${SERVICES} per variant and round, ${ROUNDS} rounds interleaved, on kube-apiserver + etcd + kube-controller-manager (100/100)`,
    `machine load average (1 min) ${load[0].toFixed(1)} at the start, ${load[1].toFixed(1)} at the end`,
    '',
  ];
  for (const inFlight of IN_FLIGHT) {
    for (const variant of VARIANTS) {
      const mine = units.filter((unit) => unit.variant === variant && unit.inFlight === inFlight);
      const figure = (f: (unit: UnitResult) => number, format: (n: number) => string) =>
        formatSpread(spread(mine.map(f)), format);
      lines.push(
        `${String(inFlight).padStart(3)} in flight, ${variant.padEnd(5)}: client ${figure((u) => mean(u.clientMs), ms)}, ` +
          `kube-apiserver ${figure((u) => u.breakdown.requests.meanMs, ms)}, ${figure(servicesPerSecond, (n) => n.toFixed(1))} Services/s, ` +
          `bitmap etcd get + update ${figure(bitmapMs, ms)}, ` +
          `CPU per Service kube-apiserver ${figure((u) => u.cpuMsPerService.apiserver, ms)} etcd ${figure((u) => u.cpuMsPerService.etcd, ms)}`,
      );
    }
  }
  lines.push('', 'apply / POST at the same number in flight (pairs of one round; median (range)):');
  for (const inFlight of IN_FLIGHT) {
    const at = (variant: Variant) => (unit: UnitResult) =>
      unit.variant === variant && unit.inFlight === inFlight;
    lines.push(
      `${String(inFlight).padStart(3)} in flight: time at kube-apiserver ${pairedRatios(units, at('APPLY'), at('POST'), (u) => u.breakdown.requests.meanMs)}, ` +
        `Services/s ${pairedRatios(units, at('APPLY'), at('POST'), servicesPerSecond)}, ` +
        `kube-apiserver CPU per Service ${pairedRatios(units, at('APPLY'), at('POST'), (u) => u.cpuMsPerService.apiserver)}`,
    );
  }
  const least = Math.min(...IN_FLIGHT);
  lines.push('', `each number in flight against ${least} (same variant, same round):`);
  for (const inFlight of IN_FLIGHT.filter((value) => value !== least)) {
    for (const variant of VARIANTS) {
      const at = (n: number) => (unit: UnitResult) => unit.variant === variant && unit.inFlight === n;
      lines.push(
        `${String(inFlight).padStart(3)} / ${least}, ${variant.padEnd(5)}: time at kube-apiserver ${pairedRatios(units, at(inFlight), at(least), (u) => u.breakdown.requests.meanMs)} ` +
          `(in flight ${(inFlight / least).toFixed(2)}x), Services/s ${pairedRatios(units, at(inFlight), at(least), servicesPerSecond)}`,
      );
    }
  }
  lines.push('', 'every unit:');
  for (const unit of units)
    lines.push(`  round ${unit.round}, ${unit.inFlight} in flight, ${unit.variant}: ${describeUnit(unit)}`);
  return lines;
}

await main();
