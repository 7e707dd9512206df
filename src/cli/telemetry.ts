import { booleanFlag, UsageError } from '../shared/options.ts';

/**
 * onnxruntime (1.29+ on Linux) sends usage telemetry to Microsoft and keeps a device id under
 * ~/.cache unless ORT_DISABLE_TELEMETRY is set before it initialises. kinfer keeps it off unless
 * this variable opts in. Environment only (no flag): it must be in force before any module loads.
 */
export const telemetrySetting = 'KINFER_ONNXRUNTIME_TELEMETRY';

const enabled = booleanFlag().default(false);

/** The variables to set so onnxruntime behaves as `env` asks: `ORT_DISABLE_TELEMETRY=1` unless opted in. */
export function onnxruntimeTelemetryEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const raw = env[telemetrySetting];
  const parsed = enabled.safeParse(raw === '' ? undefined : raw);
  if (!parsed.success) throw new UsageError(`${telemetrySetting} must be on or off (got "${raw}")`);
  return parsed.data ? {} : { ORT_DISABLE_TELEMETRY: '1' };
}

/**
 * Applies the setting to `env` (by default this process's environment, which onnxruntime reads
 * natively: call it on the main thread before onnxruntime loads anywhere in the process; worker
 * threads see it, their own process.env is only a copy).
 */
export function applyOnnxruntimeTelemetrySetting(env: NodeJS.ProcessEnv = process.env): void {
  Object.assign(env, onnxruntimeTelemetryEnv(env));
}
