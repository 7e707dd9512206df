import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { createLogger, elapsedMs, setLogLevel } from '../log.ts';
import { buildApp } from './app.ts';
import type { RuntimeConfig } from './config.ts';
import { cutConnectionsWhenDrained } from './http/drain.ts';
import { LocalPredictor } from './inference/predictor.ts';

export interface RunningRuntime {
  app: FastifyInstance;
  predictor: LocalPredictor;
  /** `http://host:port` actually bound (port 0 resolved). */
  url: string;
  /** Settles when the model is loaded and warmed up (or failed to load). */
  ready: Promise<void>;
  /**
   * Stops accepting, lets in-flight requests finish (at most `drainTimeoutMs`), closes every
   * connection, then stops the inference workers.
   */
  close(): Promise<void>;
}

const log = createLogger('runtime.server');

export async function readAuthToken(file: string | undefined): Promise<string | undefined> {
  if (!file) return undefined;
  const token = (await readFile(file, 'utf8')).trim();
  if (!token) throw new Error(`authTokenFile: ${file} is empty`);
  return token;
}

/** Listens first (so /healthz answers at once) and loads the model in the background. */
export async function startRuntime(config: RuntimeConfig): Promise<RunningRuntime> {
  setLogLevel(config.logLevel);
  const authToken = await readAuthToken(config.authTokenFile);
  const predictor = new LocalPredictor({
    modelPath: config.model,
    modelName: config.modelName,
    sha256: config.sha256,
    workers: config.workers,
    intraOpNumThreads: config.intraOpNumThreads,
    maxBatchSize: config.maxBatchSize,
    maxDelayMs: config.maxDelayMs,
    queueLimit: config.queueLimit,
    preprocessWorkers: config.preprocessWorkers,
    preprocessQueueLimit: config.preprocessQueueLimit,
    preprocessNice: config.preprocessNice,
  });
  const app = await buildApp({ config, predictor, authToken });
  const address = await app.listen({ port: config.port, host: config.host });
  log.info({ event: 'server.listening', address, model: config.model }, 'listening');
  const ready = predictor.start();
  ready.catch(() => {}); // the predictor logs it; readiness stays 503

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      const started = performance.now();
      app.lifecycle.draining = true;
      log.info(
        { event: 'server.draining' },
        'shutting down: no new connections, finishing in-flight requests',
      );
      // Answers in flight still go out (each on a connection that then closes); the idle and
      // silent connections left over are cut, so the close never waits on a client.
      const stopCutting = cutConnectionsWhenDrained(app.server, app.requestsInFlight, config.drainTimeoutMs);
      await app.close().finally(stopCutting);
      await predictor.close();
      log.info({ event: 'server.closed', elapsedMs: elapsedMs(started) }, 'shut down');
    })();
    return closing;
  };
  return { app, predictor, url: address, ready, close };
}
