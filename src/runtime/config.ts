import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { limitsRules, runtimeRuleMessage, type SettingsRule, timeoutsRules } from '../api/runtime-rules.ts';
import { logLevels } from '../log.ts';
import { envName, flagName, parseOptions, UsageError } from '../shared/options.ts';
import { timeoutsConfigShape } from './http/timeouts.ts';
import { limitsConfigShape } from './limits.ts';
import { wsConfigShape } from './ws/settings.ts';

/** A builtin model's file (`models/<name>/model.onnx`), resolved from this file so it works from any directory. */
export const builtinModelPath = (name: string): string =>
  fileURLToPath(new URL(`../../models/${name}/model.onnx`, import.meta.url));

/** The model `kinfer runtime` serves when --model is not given. */
export const bundledModelPath = builtinModelPath('mnist-cnn');

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const list = z.preprocess(
  (value) =>
    typeof value === 'string'
      ? value
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : value,
  z.array(z.string().min(1)),
);

/**
 * Every runtime setting. The same key is the YAML key (`maxBatchSize: 64`), the flag
 * (`--max-batch-size 64`) and the environment variable (`KINFER_MAX_BATCH_SIZE=64`); flags win
 * over the environment, which wins over the file, which wins over these defaults.
 */
export const runtimeConfigSchema = z
  .object({
    config: z.string().optional().describe('YAML file with any of these settings'),
    port: int(0, 65535).default(8080).describe('TCP port to listen on; 0 picks a free one'),
    host: z.string().min(1).default('0.0.0.0').describe('address to listen on'),
    model: z.string().min(1).default(bundledModelPath).describe('path of the ONNX model'),
    modelName: z
      .string()
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'must be letters, digits, ".", "_" or "-"')
      .default('mnist-cnn')
      .describe('name served under /v2/models/{name}'),
    sha256: z
      .string()
      .regex(/^[a-fA-F0-9]{64}$/, 'must be 64 hex digits')
      .optional()
      .describe('expected sha256 of the model file; a mismatch refuses to serve'),
    maxBatchSize: int(1, 4096).default(64).describe('largest batch sent to the model; 1 turns batching off'),
    maxDelayMs: z.coerce.number().min(0).max(1000).default(2).describe('longest wait for a batch to fill'),
    workers: int(1, 64).default(2).describe('inference worker threads, each owning a session'),
    intraOpNumThreads: int(1, 64).default(1).describe('onnxruntime threads per session'),
    preprocessWorkers: int(1, 64)
      .default(1)
      .describe('threads decoding PNGs and rendering strokes, so the event loop never does'),
    preprocessNice: int(0, 19)
      .default(19)
      .describe(
        'nice levels the preprocessing threads run below the rest of the runtime (Linux), so the event loop and the model go first when cores are short; 0 for the same priority',
      ),
    corsOrigins: list.default([]).describe('origins allowed by CORS, comma-separated; "*" for any'),
    logLevel: z
      .enum(logLevels)
      .default('info')
      .describe('least severe log level written (JSON lines on stdout)'),
    authTokenFile: z.string().min(1).optional().describe('file holding the bearer token; no auth when unset'),
    terminationLogPath: z
      .string()
      .min(1)
      .default('/dev/termination-log')
      .describe('file for the pod termination message when the model cannot be served'),
    podName: z
      .string()
      .min(1)
      .optional()
      .describe(
        'sent back as the kinfer-pod response header, so clients behind a Service see which replica served',
      ),
    maxSemiSpaceMb: int(0, 1024)
      .default(16)
      .describe(
        "V8's young generation: each semi-space's largest size in MiB (V8 rounds it up to a power of two), for the runtime's process and its threads; 0 leaves it to V8, which sizes it from the memory the process may use (1 MiB in a 512 MiB container)",
      ),
    drainTimeoutMs: int(0, 600_000)
      .default(20_000)
      .describe('longest wait on shutdown for in-flight HTTP requests before every connection is cut'),
    ...timeoutsConfigShape,
    ...limitsConfigShape,
    ...wsConfigShape,
  })
  .superRefine((config, ctx) => {
    // The rules between settings, shared with the ModelDeployment's CEL rules.
    const apply = <V extends Record<string, number>>(rules: SettingsRule<V>[], values: V) => {
      for (const rule of rules) {
        if (!rule.check(values)) {
          ctx.addIssue({ code: 'custom', path: [rule.field], message: runtimeRuleMessage(rule, values) });
        }
      }
    };
    apply(limitsRules, config);
    apply(timeoutsRules, config);
  });

export type RuntimeConfig = z.infer<typeof runtimeConfigSchema>;

const shape = runtimeConfigSchema.shape;
type Key = keyof typeof shape;

/**
 * Reads the runtime settings from flags, `KINFER_<FLAG>` environment variables and the optional
 * YAML file named by `--config`. Throws UsageError naming the setting and where it came from.
 */
export function loadRuntimeConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): RuntimeConfig {
  // First pass: raw values from flags and environment, no defaults, to know what was given where.
  const raw = z.object(
    Object.fromEntries((Object.keys(shape) as Key[]).map((key) => [key, z.string().optional()])),
  );
  const { options: given, positionals } = parseOptions(raw, argv, env);
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const sources = new Map<string, string>();
  for (const key of Object.keys(given)) {
    if (given[key] === undefined) continue;
    sources.set(
      key,
      argv.some((a) => a === `--${flagName(key)}` || a.startsWith(`--${flagName(key)}=`))
        ? `--${flagName(key)}`
        : envName(key),
    );
  }

  let fromFile: Record<string, unknown> = {};
  const file = given.config as string | undefined;
  if (file) {
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new UsageError(`${sources.get('config')}: cannot read ${file}: ${(error as Error).message}`);
    }
    if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed))) {
      throw new UsageError(`${file}: expected a mapping of settings`);
    }
    fromFile = (parsed ?? {}) as Record<string, unknown>;
    // The CRD's nested spelling is accepted too: `batching: {maxBatchSize, maxDelayMs}`.
    if (fromFile.batching && typeof fromFile.batching === 'object') {
      const { batching, ...rest } = fromFile;
      const { maxBatchSize, maxDelayMs } = batching as Record<string, unknown>;
      fromFile = {
        ...rest,
        maxBatchSize: rest.maxBatchSize ?? maxBatchSize,
        maxDelayMs: rest.maxDelayMs ?? maxDelayMs,
      };
    }
    for (const key of Object.keys(fromFile)) {
      if (!(key in shape)) throw new UsageError(`${file}: ${key}: unknown setting`);
      if (fromFile[key] !== undefined && !sources.has(key)) sources.set(key, `${file}: ${key}`);
    }
  }

  const merged: Record<string, unknown> = { ...fromFile };
  for (const [key, value] of Object.entries(given)) if (value !== undefined) merged[key] = value;
  const result = runtimeConfigSchema.safeParse(merged);
  if (!result.success) {
    throw new UsageError(
      result.error.issues
        .map((issue) => {
          const key = String(issue.path[0] ?? '');
          return `${sources.get(key) ?? key}: ${issue.message}`;
        })
        .join('; '),
    );
  }
  return result.data;
}
