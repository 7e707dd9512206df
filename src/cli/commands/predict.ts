import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { PredictManyResult } from '../../client/rest.ts';
import { RestClient } from '../../client/rest.ts';
import { booleanFlag, parseOptions, UsageError } from '../../shared/options.ts';
import type { CommandHelp } from '../usage.ts';

export const PredictOptionsSchema = z.object({
  url: z
    .url({ protocol: /^https?$/ })
    .default('http://localhost:8080')
    .describe('base URL of the kinfer runtime'),
  json: booleanFlag().default(false).describe('print JSON instead of a table'),
  token: z.string().min(1).optional().describe('bearer token, for a runtime started with --auth-token-file'),
  timeoutMs: z.coerce
    .number()
    .int()
    .min(1)
    .max(600_000)
    .default(30_000)
    .describe('longest wait for the answer'),
});

export const help: CommandHelp = {
  synopsis: 'IMAGE.png... [flags]',
  about:
    'Classifies PNG files (any size; a dark or light background) with a running kinfer runtime (POST /v1/predict, one request for all files) and prints a table, or JSON with --json.',
  settings: PredictOptionsSchema,
};

/**
 * `kinfer predict IMAGE.png… [--url URL] [--json] [--token T]`: classifies PNG files with a
 * running runtime (`POST /v1/predict`, one request for all images) and prints a table or JSON.
 */
export async function run(argv: string[]): Promise<void> {
  const { options, positionals } = parseOptions(PredictOptionsSchema, argv);
  if (positionals.length === 0) throw new UsageError('predict: name at least one PNG file');
  const images = await Promise.all(
    positionals.map(async (file) => {
      try {
        return (await readFile(file)).toString('base64');
      } catch (error) {
        throw new UsageError(`${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
    }),
  );
  const client = new RestClient({ url: options.url, token: options.token, timeoutMs: options.timeoutMs });
  const result = await client.predictMany(images.map((image) => ({ image })));
  process.stdout.write(
    options.json ? `${JSON.stringify(asJson(positionals, result), null, 2)}\n` : table(positionals, result),
  );
}

export function asJson(files: string[], result: PredictManyResult) {
  return {
    model: result.model,
    latencyMs: result.latencyMs,
    predictions: result.predictions.map((prediction, i) => ({ file: files[i], ...prediction })),
  };
}

/** A plain table: file, predicted digit, confidence, then the model line. */
export function table(files: string[], result: PredictManyResult): string {
  const width = Math.max(4, ...files.map((file) => file.length));
  const lines = [`${'FILE'.padEnd(width)}  DIGIT  CONFIDENCE`];
  result.predictions.forEach((prediction, i) => {
    lines.push(
      `${(files[i] ?? '').padEnd(width)}  ${String(prediction.prediction).padEnd(5)}  ${(prediction.confidence * 100).toFixed(1).padStart(9)}%`,
    );
  });
  lines.push(`model ${result.model.name} sha256 ${result.model.sha256} (${result.latencyMs.toFixed(1)} ms)`);
  return `${lines.join('\n')}\n`;
}
