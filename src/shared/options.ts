import { parseArgs } from 'node:util';
import { z } from 'zod';

/** A command-line or environment setting that failed validation; the message names the setting. */
export class UsageError extends Error {
  readonly code = 'usage';
}

/** `maxConnections` → `max-connections`, the flag spelling. */
export const flagName = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** `maxConnections` → `KINFER_MAX_CONNECTIONS`, the environment spelling. */
export const envName = (key: string): string => `KINFER_${flagName(key).replace(/-/g, '_').toUpperCase()}`;

/**
 * Reads a command's settings from flags, then `KINFER_<FLAG>` environment variables, then the
 * schema's defaults, and validates them with the zod schema. Values arrive as strings, so the
 * schema should coerce (`z.coerce.number()`, `booleanFlag`). Flags win over the environment.
 * Positional arguments are returned separately.
 */
export function parseOptions<S extends z.ZodObject>(
  schema: S,
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): { options: z.infer<S>; positionals: string[] } {
  const keys = Object.keys(schema.shape);
  const booleans = new Set(keys.filter((key) => isBoolean(schema.shape[key] as z.ZodType)));
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: Object.fromEntries(
        keys.map((key) => [flagName(key), { type: booleans.has(key) ? 'boolean' : 'string' }]),
      ) as Record<string, { type: 'string' | 'boolean' }>,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const raw: Record<string, unknown> = {};
  for (const key of keys) {
    const fromFlag = parsed.values[flagName(key)];
    const fromEnv = env[envName(key)];
    if (fromFlag !== undefined) raw[key] = fromFlag;
    else if (fromEnv !== undefined && fromEnv !== '') raw[key] = fromEnv;
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      const fromFlag = parsed.values[flagName(key)] !== undefined;
      const source = fromFlag ? `--${flagName(key)}` : envName(key);
      const hint = fromFlag ? '' : serviceLinkHint(env[envName(key)]);
      return `${key ? `${source}: ` : ''}${issue.message}${hint}`;
    });
    throw new UsageError(problems.join('; '));
  }
  return { options: result.data, positionals: parsed.positionals };
}

/**
 * Kubernetes gives every pod `<SERVICE>_PORT=tcp://<ip>:<port>` for each Service of its namespace
 * (service links), so a Service named `kinfer` sets KINFER_PORT in every pod beside it. The pods
 * the operator generates turn service links off and set KINFER_PORT themselves; a pod written by
 * hand gets told what happened.
 */
function serviceLinkHint(value: string | undefined): string {
  if (!value || !/^(tcp|udp|sctp):\/\/[^/]+:\d+$/.test(value)) return '';
  return ` (got "${value}", which looks like a Kubernetes service link from a Service named "kinfer" in this namespace: set enableServiceLinks: false in the pod spec, or rename the Service)`;
}

/** A boolean setting that also accepts the strings an environment variable carries. */
export const booleanFlag = () =>
  z.preprocess((value) => {
    if (typeof value !== 'string') return value;
    if (/^(true|1|yes|on)$/i.test(value)) return true;
    if (/^(false|0|no|off)$/i.test(value)) return false;
    return value;
  }, z.boolean());

/** Whether a setting is a boolean flag (given bare, `--leader-elect`, rather than with a value). */
export function isBoolean(type: z.ZodType): boolean {
  const json = z.toJSONSchema(type, { io: 'input', unrepresentable: 'any' }) as { type?: unknown };
  return json.type === 'boolean';
}
