import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { ServingPredictor } from '../inference/predictor.ts';
import { RequestMetrics } from './request-metrics.ts';

/** Per-app registry (not prom-client's global one), so several apps can live in one process. */
export interface RuntimeMetrics {
  readonly registry: Registry;
}

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Prometheus metrics: HTTP requests and latency, batch sizes, queue depth and wait, inference time.
 * `inFlight`: HTTP requests received and not yet answered (drain.ts countInFlight, the one count
 * that shutdown also reads), read into the gauge at scrape time.
 */
export function installMetrics(
  app: FastifyInstance,
  predictor: ServingPredictor,
  inFlight: () => number,
): RuntimeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'kinfer_' });

  const requests = new RequestMetrics(registry, {
    requests: {
      name: 'kinfer_http_requests_total',
      help: 'HTTP requests by route template, method and status code',
    },
    duration: {
      name: 'kinfer_http_request_duration_seconds',
      help: 'HTTP request latency by route template and method',
      buckets: latencyBuckets,
    },
  });
  new Gauge({
    name: 'kinfer_http_requests_in_flight',
    help: 'HTTP requests received and not yet answered',
    registers: [registry],
    collect() {
      this.set(inFlight());
    },
  });
  const batchSize = new Histogram({
    name: 'kinfer_batch_size',
    help: 'Images per batch sent to the model',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers: [registry],
  });
  const inference = new Histogram({
    name: 'kinfer_inference_duration_seconds',
    help: 'Time onnxruntime spent on one batch (in its worker thread)',
    buckets: latencyBuckets,
    registers: [registry],
  });
  const queueWait = new Histogram({
    name: 'kinfer_queue_wait_seconds',
    help: 'Time the oldest request of a batch waited before the batch was sent',
    buckets: latencyBuckets,
    registers: [registry],
  });
  const images = new Counter({
    name: 'kinfer_images_total',
    help: 'Images run through the model',
    registers: [registry],
  });
  new Gauge({
    name: 'kinfer_queue_depth',
    help: 'Images queued for the model and not yet sent to a worker',
    registers: [registry],
    collect() {
      this.set(predictor.queuedImages);
    },
  });
  new Gauge({
    name: 'kinfer_batches_running',
    help: 'Batches running on inference workers',
    registers: [registry],
    collect() {
      this.set(predictor.runningBatches);
    },
  });
  new Counter({
    name: 'kinfer_json_bodies_parsed_off_loop_total',
    help: 'JSON request bodies large enough to be parsed on a preprocessing thread, not the event loop',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(predictor.jsonParsedOffLoop);
    },
  });
  new Gauge({
    name: 'kinfer_model_ready',
    help: '1 when the model is loaded and warmed up',
    registers: [registry],
    collect() {
      this.set(predictor.ready ? 1 : 0);
    },
  });

  const unsubscribe = predictor.onBatch(({ size, waitMs, inferenceMs }) => {
    batchSize.observe(size);
    images.inc(size);
    inference.observe(inferenceMs / 1000);
    queueWait.observe(waitMs / 1000);
  });
  app.addHook('onClose', async () => unsubscribe());

  // A hook with `done`, not an async one: no promise per request.
  app.addHook('onResponse', (request, reply, done) => {
    // The route template, never the raw URL: unknown paths would explode the label set.
    requests.observe(
      request.method,
      request.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  });

  const text = { content: { 'text/plain': { schema: { type: 'string' } } } };
  const metricsSchema = {
    tags: ['Probes'],
    summary: 'Prometheus metrics',
    response: { 200: { description: 'metrics in the Prometheus text format', ...text } },
  };
  app.get('/metrics', { schema: metricsSchema }, async (_request, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  return { registry };
}
