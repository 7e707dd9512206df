/**
 * A worker thread running one onnxruntime session back to back on fixed batches, as raw
 * onnxruntime is measured, but on a thread of its own, so that several can run at once
 * (raw-sessions.ts). workerData: the model path and `batches` (Float32Arrays of `batch` images of
 * 784 floats, used in turn). Posts 'ready' once warmed up; on { seconds } runs that long and posts
 * { images, cpuUs }, its own thread's CPU over the window (process.threadCpuUsage).
 */
// First: onnxruntime telemetry off before onnxruntime-node loads.
import './no-telemetry.ts';
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { sessionOptions } from '../../src/runtime/inference/session-options.ts';
import { runFor, threadCpuSeconds, warmUp } from './session-runs.ts';

const { model, batch, batches } = workerData as { model: string; batch: number; batches: Float32Array[] };
const session = await ort.InferenceSession.create(model, sessionOptions(1));
const feeds = batches.map((data) => ({ input: new ort.Tensor('float32', data, [batch, 1, 28, 28]) }));
await warmUp(session, feeds);
const port = parentPort!;
port.on('message', async ({ seconds }: { seconds: number }) => {
  const run = await runFor(session, feeds, seconds, threadCpuSeconds);
  port.postMessage({ images: run.runs * batch, cpuUs: run.cpuSeconds * 1e6 });
});
port.postMessage('ready');
