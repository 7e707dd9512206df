import { parseOptions } from '../../shared/options.ts';

/** `kinfer job --name NAME --namespace NS [--port 8080] [--model-endpoint URL]`: the InferenceJob runner. */
export async function run(argv: string[]): Promise<void> {
  const { JobOptionsSchema, runJobProcess } = await import('../../jobs/process.ts');
  const { options } = parseOptions(JobOptionsSchema, argv);
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const code = await runJobProcess(options, abort.signal);
  process.exit(code);
}
