import { getHeapStatistics } from 'node:v8';
import { createLogger } from '../../log.ts';
import { loadRuntimeConfig, runtimeConfigSchema } from '../../runtime/config.ts';
import { semiSpaceReexec } from '../../runtime/heap-flags.ts';
import { ModelLoadError } from '../../runtime/inference/model.ts';
import { startRuntime } from '../../runtime/server.ts';
import { writeTerminationMessage } from '../../runtime/termination.ts';
import type { CommandHelp } from '../usage.ts';

/** Longest a graceful shutdown may take before the process exits anyway. */
const shutdownTimeoutMs = 30_000;

export const help: CommandHelp = {
  synopsis: '[flags]',
  about:
    'Serves the model over REST (KServe V2, /v1/predict) and WebSocket until SIGTERM or SIGINT. Every setting is also a key of the YAML file given by --config: flags win over the environment, which wins over the file.',
  settings: runtimeConfigSchema,
};

/** `kinfer runtime`: serves the model over REST (and WebSocket) until SIGTERM or SIGINT. */
export async function run(argv: string[]): Promise<void> {
  const config = loadRuntimeConfig(argv);
  // V8's heap is sized when the process starts: the runtime runs itself again, same process id,
  // with the young generation it is set to (src/runtime/heap-flags.ts), before anything starts.
  const reexec = semiSpaceReexec(config.maxSemiSpaceMb, process, process.env.NODE_OPTIONS);
  if (reexec && process.execve) process.execve(process.execPath, reexec, process.env);
  const runtime = await startRuntime(config);
  const log = createLogger('runtime.cli');
  log.info(
    {
      event: 'runtime.heap',
      nodeOptions: [...process.execArgv, ...(process.env.NODE_OPTIONS ? [process.env.NODE_OPTIONS] : [])],
      heapLimitMiB: Math.round(getHeapStatistics().heap_size_limit / 2 ** 20),
    },
    "V8's heap: the Node options it was started with and its size limit",
  );
  runtime.ready.catch((error: Error) => {
    // A model that cannot be served is a crash: Kubernetes shows it (CrashLoopBackOff) and the
    // operator reports the pod's termination message as Degraded (ModelLoadFailed, ...).
    const reason = error instanceof ModelLoadError ? error.reason : 'ModelLoadFailed';
    writeTerminationMessage(config.terminationLogPath, reason, error.message);
    process.exitCode = 1;
    void runtime.close().finally(() => process.exit(1));
  });
  const stop = (signal: string) => {
    log.info({ event: 'signal', signal }, `received ${signal}`);
    setTimeout(() => {
      log.error(
        { event: 'shutdown.timeout', timeoutMs: shutdownTimeoutMs },
        'shutdown took too long, exiting',
      );
      process.exit(1);
    }, shutdownTimeoutMs).unref();
    runtime.close().then(
      () => process.exit(process.exitCode ?? 0),
      (error: Error) => {
        log.error({ event: 'shutdown.failed', err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
