import { JobOptionsSchema } from '../../jobs/options.ts';
import { parseOptions } from '../../shared/options.ts';
import type { CommandHelp } from '../usage.ts';

export const help: CommandHelp = {
  synopsis: '--name NAME --namespace NS [flags]',
  about:
    'Runs an InferenceJob: classifies its input with the model, serves progress on /v1/jobs/NAME and previews on /ws/jobs/NAME, and exits 0 if the job succeeded. The operator starts it in the job-runner pod; it also runs on its own with --spec and --model-endpoint.',
  settings: JobOptionsSchema,
};

/** `kinfer job --name NAME --namespace NS [--port 8080] [--model-endpoint URL]`: the InferenceJob runner. */
export async function run(argv: string[]): Promise<void> {
  const { runJobProcess } = await import('../../jobs/process.ts');
  const { options } = parseOptions(JobOptionsSchema, argv);
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const code = await runJobProcess(options, abort.signal);
  process.exit(code);
}
