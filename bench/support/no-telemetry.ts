// Imported first by the benchmarks that load onnxruntime in their own process (before
// onnxruntime-node), so they run with its telemetry off like every kinfer process.
import { applyOnnxruntimeTelemetrySetting } from '../../src/cli/telemetry.ts';

applyOnnxruntimeTelemetrySetting();
