import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { release } from '../preprocess/own-buffer.ts';
import {
  rowSize,
  type TensorInfo,
  type WorkerEvent,
  type WorkerInit,
  type WorkerRequest,
} from './protocol.ts';
import { sessionOptions } from './session-options.ts';

// One InferenceSession per worker thread: `session.run` blocks the thread it is called on, so it
// must never be the event loop's thread.
const init = workerData as WorkerInit;
const port = parentPort!;
const post = (event: WorkerEvent, transfer: ArrayBuffer[] = []) => port.postMessage(event, transfer);

const describe = (meta: readonly ort.InferenceSession.ValueMetadata[]): TensorInfo[] =>
  meta.map((m) => ({
    name: m.name,
    type: m.isTensor ? m.type : 'non-tensor',
    shape: m.isTensor ? m.shape.map((d) => (typeof d === 'number' && d > 0 ? d : -1)) : [],
  }));

async function main(): Promise<void> {
  let session: ort.InferenceSession;
  const loadStart = performance.now();
  try {
    session = await ort.InferenceSession.create(init.model, sessionOptions(init.intraOpNumThreads));
  } catch (error) {
    post({ type: 'failed', message: (error as Error).message });
    return;
  }
  const loadMs = performance.now() - loadStart;
  const inputs = describe(session.inputMetadata);
  const outputs = describe(session.outputMetadata);
  const input = inputs[0]!;
  const output = outputs[0]!;
  const perImage = rowSize(input.shape);
  const run = async (data: Float32Array, count: number): Promise<Float32Array> => {
    const tensor = new ort.Tensor('float32', data, [count, ...input.shape.slice(1)]);
    const result = await session.run({ [input.name]: tensor });
    // Copied so the buffer can be transferred back (ORT's own may be external memory).
    return new Float32Array(result[output.name]!.data as Float32Array);
  };

  const warmupStart = performance.now();
  try {
    for (const size of init.warmupBatchSizes) await run(new Float32Array(size * perImage), size);
  } catch (error) {
    post({ type: 'failed', message: `warm-up failed: ${(error as Error).message}` });
    return;
  }
  port.on('message', async (request: WorkerRequest) => {
    const { id } = request;
    const start = performance.now();
    try {
      const out = await run(request.data, request.count);
      // The batch was moved here whole and nothing reads it any more: freed now, not at this
      // isolate's next collection, so its memory is reused warm (the event loop's next body
      // buffer of that size may be this one).
      release(new Uint8Array(request.data.buffer));
      post({ type: 'result', id, output: out, inferenceMs: performance.now() - start }, [
        out.buffer as ArrayBuffer,
      ]);
    } catch (error) {
      post({ type: 'error', id, message: (error as Error).message });
    }
  });
  post({ type: 'ready', inputs, outputs, loadMs, warmupMs: performance.now() - warmupStart });
}

void main();
