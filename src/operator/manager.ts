import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { createCache, type ObjectCache } from '../kube/cache.ts';
import { KubeClient } from '../kube/client.ts';
import type { Controller } from '../kube/controller.ts';
import { EventRecorder } from '../kube/events.ts';
import { LeaderElector } from '../kube/leader.ts';
import type { KubeObject, ResourceType } from '../kube/resources.ts';
import { createLogger, type Logger } from '../log.ts';
import { describeError } from '../shared/errors.ts';
import { OperatorMetrics } from './metrics.ts';
import type { PredictorConfig } from './modeldeployment/desired.ts';

/**
 * Reconciles in flight per kind unless told otherwise. A reconcile waits on the apiserver, not the
 * CPU, and in a burst of new ModelDeployments mostly on its Service's create, which kube-apiserver
 * runs one at a time where it allocates the ClusterIP: Services come out at one rate past about 4-8
 * creates in flight, and each more in flight only waits longer (bench:services: 4 to 32 in flight,
 * 5-6x the time per create, no fewer Services/s). Interleaved bench:operator runs at 1,000
 * (2026-11-27) took as long to all Ready at 8, 16 and 32 within the machine's noise, with fewer
 * reconciles and less CPU per ModelDeployment the fewer in flight; 16 keeps the ClusterIP step
 * busy with room to spare on an apiserver whose step is shorter.
 */
export const DEFAULT_CONCURRENCY = 16;

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  /** Namespaces to watch; empty or omitted: all. */
  namespaces?: readonly string[];
  /** Port of /healthz, /readyz and /metrics; 0 picks a free one; undefined serves none. */
  metricsPort?: number;
  metricsHost?: string;
  leaderElect?: boolean;
  leaseNamespace?: string;
  leaseName?: string;
  identity?: string;
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Reconciles in flight at once, per kind (the command line's default: DEFAULT_CONCURRENCY). */
  concurrency?: number;
  resyncMs?: number;
  watchTimeoutSeconds?: number;
  /** How long past its server timeout a watch may stay open before the watchdog restarts it. */
  watchdogGraceMs?: number;
  /** Timeout of every non-watch API request (default 30 s). */
  requestTimeoutMs?: number;
  predictor: PredictorConfig;
  logger?: Logger;
}

/** What a controller's setup gets: shared caches, the client, the recorder, metrics hooks. */
export interface OperatorContext {
  client: KubeClient;
  recorder: EventRecorder;
  metrics: OperatorMetrics;
  options: OperatorOptions;
  logger(module: string): Logger;
  /** One shared cache per (resource, label and field selector), started before the controllers. */
  cache<T extends KubeObject = KubeObject>(
    type: ResourceType,
    options?: { labelSelector?: string; fieldSelector?: string; managedFieldsOf?: string },
  ): ObjectCache<T>;
  /** Hooks that feed the standard per-kind metrics; pass them to `new Controller`. */
  controllerHooks(
    kind: string,
  ): Pick<import('../kube/controller.ts').ControllerOptions, 'onReconcile' | 'onDequeue' | 'logger'>;
}

/** Registers one kind's reconciler: builds its caches (through ctx) and returns its controller. */
export type ControllerSetup = (ctx: OperatorContext) => Controller;

/**
 * The operator process: one API client, shared caches, the controllers, leader election, and the
 * health/metrics server. Standbys serve /healthz and /readyz but start no informer or controller
 * until they lead.
 */
export class Operator {
  readonly client: KubeClient;
  readonly metrics = new OperatorMetrics();
  private readonly caches = new Map<string, ObjectCache>();
  private readonly controllers: Controller[] = [];
  private readonly elector: LeaderElector | undefined;
  private readonly log: Logger;
  private server: http.Server | undefined;
  private running = false;
  private stopping: Promise<void> | undefined;
  /** Resolves if leadership is lost while running (the process should then exit). */
  readonly lost: Promise<void>;
  private markLost!: () => void;

  constructor(
    private readonly options: OperatorOptions,
    private readonly setups: readonly ControllerSetup[],
  ) {
    this.log = options.logger ?? createLogger('operator');
    this.client = new KubeClient(options.kubeConfig, {
      userAgent: 'kinfer-operator',
      onRequest: this.metrics.recordRequest,
      ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    });
    this.lost = new Promise((resolve) => {
      this.markLost = resolve;
    });
    if (options.leaderElect) {
      this.elector = new LeaderElector({
        client: this.client,
        namespace: options.leaseNamespace ?? 'default',
        name: options.leaseName ?? 'kinfer-operator',
        identity:
          options.identity ?? `${hostname()}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`,
        ...(options.leaseDurationSeconds !== undefined
          ? { leaseDurationSeconds: options.leaseDurationSeconds }
          : {}),
        ...(options.renewDeadlineMs !== undefined ? { renewDeadlineMs: options.renewDeadlineMs } : {}),
        ...(options.retryPeriodMs !== undefined ? { retryPeriodMs: options.retryPeriodMs } : {}),
        logger: this.log,
      });
    }
  }

  get isLeader(): boolean {
    return this.elector ? this.elector.isLeader : this.running;
  }

  /** Per cache (resource and selector): lists, watches and watch restarts by reason. */
  informerStats(): Record<string, import('../kube/informer.ts').InformerStats[]> {
    return Object.fromEntries(
      [...this.caches.entries()].map(([key, cache]) => [
        key,
        cache.informers.map((informer) => informer.stats),
      ]),
    );
  }

  get metricsAddress(): AddressInfo | undefined {
    return (this.server?.address() as AddressInfo | null) ?? undefined;
  }

  /** Serves health and metrics, waits for leadership if asked to, then runs the controllers. */
  async start(): Promise<void> {
    if (this.options.metricsPort !== undefined) await this.listen(this.options.metricsPort);
    if (this.elector) {
      const acquired = await this.elector.acquire(() => this.leadershipLost());
      if (!acquired) return;
    }
    this.metrics.leader.set(1);
    await this.runControllers();
  }

  /**
   * Stops reconciling at once: another replica may already be leading, so nothing more of this
   * process may reach the apiserver (requests in flight are aborted, later ones fail), and no
   * controller takes another key. The process is expected to exit (`lost` resolves).
   */
  private leadershipLost(): void {
    this.metrics.leader.set(0);
    this.client.halt('leadership lost');
    for (const controller of this.controllers) controller.queue.shutdown();
    this.markLost();
  }

  /** Finishes the reconciles in flight, stops watching, releases the lease, closes the server. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const started = performance.now();
      await Promise.all(this.controllers.map((controller) => controller.stop()));
      await Promise.all([...this.caches.values()].map((cache) => cache.stop()));
      await this.elector?.release();
      this.metrics.leader.set(0);
      await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
      this.server?.closeAllConnections();
      this.client.close();
      this.running = false;
      this.log.info(
        { event: 'operator.stopped', elapsedMs: Math.round(performance.now() - started) },
        'operator stopped',
      );
    })();
    return this.stopping;
  }

  private async runControllers(): Promise<void> {
    const ctx = this.context();
    for (const setup of this.setups) this.controllers.push(setup(ctx));
    if (this.stopping) return;
    const started = performance.now();
    for (const cache of this.caches.values()) cache.start();
    await Promise.all([...this.caches.values()].map((cache) => cache.waitForSync()));
    if (this.stopping) return;
    for (const controller of this.controllers) controller.start();
    this.running = true;
    this.log.info(
      {
        event: 'operator.started',
        namespaces: this.options.namespaces?.length ? this.options.namespaces : 'all',
        caches: this.caches.size,
        elapsedMs: Math.round(performance.now() - started),
      },
      'caches synced; controllers running',
    );
  }

  private context(): OperatorContext {
    const recorder = new EventRecorder(this.client, { logger: createLogger('operator.events') });
    const metrics = this.metrics;
    return {
      client: this.client,
      recorder,
      metrics,
      options: this.options,
      logger: (module) => createLogger(module),
      cache: <T extends KubeObject>(
        type: ResourceType,
        options: { labelSelector?: string; fieldSelector?: string; managedFieldsOf?: string } = {},
      ) => {
        const fields = options.fieldSelector ? `&fields=${options.fieldSelector}` : '';
        const managed = options.managedFieldsOf ? `&managedFieldsOf=${options.managedFieldsOf}` : '';
        const key = `${type.group}/${type.plural}?${options.labelSelector ?? ''}${fields}${managed}`;
        let cache = this.caches.get(key);
        if (!cache) {
          cache = createCache(
            {
              client: this.client,
              type,
              labelSelector: options.labelSelector,
              fieldSelector: options.fieldSelector,
              managedFieldsOf: options.managedFieldsOf,
              ...(this.options.watchTimeoutSeconds
                ? { watchTimeoutSeconds: this.options.watchTimeoutSeconds }
                : {}),
              ...(this.options.watchdogGraceMs ? { watchdogGraceMs: this.options.watchdogGraceMs } : {}),
              logger: createLogger('operator.informer'),
              onWatchRestart: (reason) => metrics.watchRestarts.inc({ resource: type.plural, reason }),
            },
            this.options.namespaces,
          );
          this.caches.set(key, cache);
        }
        return cache as unknown as ObjectCache<T>;
      },
      controllerHooks: (kind) => ({
        logger: createLogger('operator.controller', { kind }),
        onReconcile: (outcome, elapsedMs) => {
          metrics.reconciles.inc({ kind, outcome });
          metrics.reconcileDuration.observe({ kind }, elapsedMs / 1000);
        },
        onDequeue: (waitedMs) => metrics.queueWait.observe({ kind }, waitedMs / 1000),
      }),
    };
  }

  private async listen(port: number): Promise<void> {
    this.server = http.createServer((request, response) => {
      void this.serve(request, response).catch((error: unknown) => {
        this.log.error({ event: 'http.failed', err: describeError(error) }, 'health/metrics request failed');
        if (!response.headersSent) response.writeHead(500).end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, this.options.metricsHost ?? '0.0.0.0', () => resolve());
    });
    this.log.info(
      { event: 'operator.listening', port: this.metricsAddress?.port },
      'serving /healthz, /readyz and /metrics',
    );
  }

  private async serve(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      // A standby is ready (to take over); a leader once its caches are synced and, from then on,
      // only while every informer's list/watch reaches the apiserver (a leader that cannot see
      // changes is not doing its job, whatever its cache says).
      const synced = [...this.caches.values()].every((cache) =>
        cache.informers.every((informer) => informer.isConnected()),
      );
      const ready =
        this.stopping === undefined &&
        (this.elector && !this.elector.isLeader ? true : this.running && synced);
      response
        .writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' })
        .end(ready ? 'ok\n' : 'not ready\n');
    } else if (path === '/metrics') {
      for (const controller of this.controllers) {
        this.metrics.queueDepth.set({ kind: controller.name }, controller.queue.length);
      }
      const body = await this.metrics.registry.metrics();
      response.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(body);
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  }
}
