import { readFile } from 'node:fs/promises';
import { type InferenceJobSpec, InferenceJobSpecSchema } from '../api/inferencejob.ts';
import { createLogger, elapsedMs } from '../log.ts';
import { JobFailure } from './errors.ts';
import { loadInput } from './input/load.ts';
import { RunnerApi } from './kube.ts';
import type { JobOptions } from './options.ts';
import { JobRunner } from './runner.ts';
import { buildJobServer } from './server.ts';
import { writeTerminationSummary } from './termination.ts';

/** The infer URL from `--model-endpoint`: kept when it already names a model, else completed. */
export function inferUrl(endpoint: string, modelName: string): string {
  const url = new URL(endpoint);
  if (/\/v2\/models\/[^/]+\/infer$/.test(url.pathname)) return url.href;
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v2/models/${encodeURIComponent(modelName)}/infer`;
  return url.href;
}

/** Parses a spec given as JSON (`--spec`, `--spec-file`): a bare spec or a whole InferenceJob. */
export function parseSpecText(text: string, source: string): InferenceJobSpec {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new JobFailure('input_invalid', `${source}: not JSON`);
  }
  const raw = json && typeof json === 'object' && 'spec' in json ? (json as { spec: unknown }).spec : json;
  const parsed = InferenceJobSpecSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new JobFailure('input_invalid', `${source}: spec.${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * The whole life of a runner process: serve right away (so the operator sees it up while it
 * loads), resolve spec and endpoint, run, linger so clients and the operator read the final
 * state, close. Resolves with the process exit code.
 */
export async function runJobProcess(options: JobOptions, signal?: AbortSignal): Promise<number> {
  const log = createLogger('jobs.process', { job: `${options.namespace}/${options.name}` });
  let api: RunnerApi | undefined;
  const needsApi = () => {
    api ??= new RunnerApi(options.namespace);
    return api;
  };

  let spec: InferenceJobSpec | undefined;
  let specError: unknown;
  try {
    if (options.spec) spec = parseSpecText(options.spec, 'KINFER_SPEC');
    else if (options.specFile)
      spec = parseSpecText(await readFile(options.specFile, 'utf8'), options.specFile);
    else spec = await needsApi().jobSpec(options.name);
  } catch (error) {
    specError = error;
  }

  const runner = new JobRunner({
    name: options.name,
    namespace: options.namespace,
    spec: spec ?? { batchSize: 1, previewIntervalMs: 1000 },
    concurrency: options.concurrency,
    progressIntervalMs: options.progressIntervalMs,
    encoding: options.tensorEncoding,
  });
  const app = buildJobServer(runner);
  const address = await app.listen({ port: options.port, host: options.host });
  const port = (app.server.address() as { port: number }).port;
  log.info({ event: 'job.listening', address, port }, 'job runner listening');

  const stop = () => runner.cancel('runner received SIGTERM');
  signal?.addEventListener('abort', stop, { once: true });
  const started = performance.now();
  const outcome = await runner.run(async () => {
    if (!spec) throw specError;
    const endpoint = options.modelEndpoint
      ? inferUrl(options.modelEndpoint, options.modelName)
      : await needsApi().modelEndpoint(spec.modelDeploymentRef.name);
    const readConfigMap = (name: string, key: string) => needsApi().configMapKey(name, key);
    const input = await loadInput(spec.input, {
      ...(options.inputFile ? { inputFile: options.inputFile } : {}),
      readConfigMap,
    });
    return { input, modelEndpoint: endpoint };
  });
  api?.close();
  // Written before lingering: the linger may be cut short (SIGTERM, activeDeadlineSeconds).
  if (options.terminationLogPath) {
    const written = writeTerminationSummary(options.terminationLogPath, runner.snapshot());
    log.info(
      { event: 'job.termination_message', path: options.terminationLogPath, written },
      written ? 'final summary written as termination message' : 'could not write the termination message',
    );
  }
  log.info(
    { event: 'job.finished', outcome, elapsedMs: elapsedMs(started), lingerSeconds: options.lingerSeconds },
    'job finished, lingering',
  );

  if (!signal?.aborted && options.lingerSeconds > 0) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, options.lingerSeconds * 1000);
      signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  await closeWithin(app, 2000);
  return outcome === 'Succeeded' ? 0 : 1;
}

/** Closes the server; WebSocket clients that do not answer the close handshake are cut off. */
async function closeWithin(app: ReturnType<typeof buildJobServer>, ms: number): Promise<void> {
  const timer = setTimeout(() => app.server.closeAllConnections(), ms);
  await app.close();
  clearTimeout(timer);
}
