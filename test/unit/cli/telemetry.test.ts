import { describe, expect, it } from 'vitest';
import { applyOnnxruntimeTelemetrySetting, onnxruntimeTelemetryEnv } from '../../../src/cli/telemetry.ts';
import { UsageError } from '../../../src/shared/options.ts';

describe('onnxruntime telemetry setting', () => {
  it('is off unless asked for: ORT_DISABLE_TELEMETRY=1, whatever was inherited', () => {
    const unset = [{}, { KINFER_ONNXRUNTIME_TELEMETRY: '' }, { ORT_DISABLE_TELEMETRY: '0' }];
    const off = ['off', 'false', '0', 'No'].map((value) => ({ KINFER_ONNXRUNTIME_TELEMETRY: value }));
    for (const env of [...unset, ...off])
      expect(onnxruntimeTelemetryEnv(env)).toEqual({ ORT_DISABLE_TELEMETRY: '1' });
  });

  it('an explicit opt-in leaves onnxruntime to its own default', () => {
    for (const value of ['on', 'true', '1', 'YES'])
      expect(onnxruntimeTelemetryEnv({ KINFER_ONNXRUNTIME_TELEMETRY: value })).toEqual({});
  });

  it('a value that is neither on nor off is a usage error naming the variable', () => {
    expect(() => onnxruntimeTelemetryEnv({ KINFER_ONNXRUNTIME_TELEMETRY: 'maybe' })).toThrow(UsageError);
    expect(() => onnxruntimeTelemetryEnv({ KINFER_ONNXRUNTIME_TELEMETRY: 'maybe' })).toThrow(
      /KINFER_ONNXRUNTIME_TELEMETRY.*maybe/,
    );
  });

  it('applying it writes into the environment it is given', () => {
    const env: NodeJS.ProcessEnv = { ORT_DISABLE_TELEMETRY: '0' };
    applyOnnxruntimeTelemetrySetting(env);
    expect(env.ORT_DISABLE_TELEMETRY).toBe('1');
    const optedIn: NodeJS.ProcessEnv = { KINFER_ONNXRUNTIME_TELEMETRY: 'on' };
    applyOnnxruntimeTelemetrySetting(optedIn);
    expect(optedIn).toEqual({ KINFER_ONNXRUNTIME_TELEMETRY: 'on' });
  });
});
