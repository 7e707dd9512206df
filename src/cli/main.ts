import { UsageError } from '../shared/options.ts';
import { applyOnnxruntimeTelemetrySetting } from './telemetry.ts';
import { type CommandHelp, commandUsage } from './usage.ts';

/** Each subcommand lives in its own module, loaded only when asked for, so `kinfer runtime` never loads the Kubernetes client. */
const commands: Record<
  string,
  { summary: string; load: () => Promise<{ help: CommandHelp; run(argv: string[]): Promise<void> }> }
> = {
  runtime: {
    summary: 'serve the model over REST (KServe V2, /v1/predict) and WebSocket',
    load: () => import('./commands/runtime.ts'),
  },
  operator: {
    summary: 'run the Kubernetes operator (ModelDeployment, InferenceJob)',
    load: () => import('./commands/operator.ts'),
  },
  predict: {
    summary: 'classify PNG files with a running runtime (table or --json)',
    load: () => import('./commands/predict.ts'),
  },
  'fetch-model': {
    summary: 'download a model and verify its sha256 (init container)',
    load: () => import('./commands/fetch-model.ts'),
  },
  job: {
    summary: 'run an InferenceJob: classify its input, stream previews on /ws/jobs/NAME',
    load: () => import('./commands/job.ts'),
  },
  watch: {
    summary: 'follow an InferenceJob live: progress bar, digit mosaic, summary (kinfer watch job NAME -n NS)',
    load: () => import('./commands/watch.ts'),
  },
};

const usage = (): string =>
  [
    'Usage: kinfer <command> [options]',
    '',
    'Commands:',
    ...Object.entries(commands).map(([name, { summary }]) => `  ${name.padEnd(12)} ${summary}`),
    '',
    'Every --flag can also be set as KINFER_<FLAG> in the environment.',
    'kinfer <command> --help lists its flags, their variables and defaults.',
  ].join('\n');

/** `--help` or `-h` among a command's arguments (before a `--` that ends the flags). */
const asksForHelp = (argv: readonly string[]): boolean => {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
};

async function main(argv: string[]): Promise<void> {
  const [first, ...args] = argv;
  const topic = first === 'help' ? args[0] : undefined;
  if (!first || first === '--help' || first === '-h' || (first === 'help' && !topic)) {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  const name = topic ?? first;
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) throw new UsageError(`unknown command "${name}"\n\n${usage()}`);
  // Before the command loads: onnxruntime reads it once, when it initialises (in any thread).
  applyOnnxruntimeTelemetrySetting();
  const loaded = await command.load();
  // Help starts nothing: the command's settings are read from its definitions, not parsed.
  if (topic || asksForHelp(args)) {
    process.stdout.write(commandUsage(name, loaded.help));
    return;
  }
  try {
    await loaded.run(args);
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(`${error.message}\nsee kinfer ${name} --help`);
    throw error;
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`kinfer: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(
    `kinfer: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
