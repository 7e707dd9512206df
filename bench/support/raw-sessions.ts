import type { Worker } from 'node:worker_threads';
import { startThread } from '../../src/runtime/threads.ts';

/** Images per CPU-second of onnxruntime's threads: the `sessions` together, and each on its own. */
export interface RawSessions {
  perCpu: number;
  each: number[];
}

/**
 * Raw onnxruntime in `sessions` worker threads at once (session-loop.ts): each its own session
 * with the runtime's options and one intra-op thread, back to back on batches of `batch` digits
 * for `seconds`, all started together. With 2 on a 2-core machine this is what any two sessions
 * cost each other (shared caches, memory bandwidth, clock) with no server around them: the
 * runtime's two inference workers cannot do better per image.
 */
export async function rawSessions(
  model: string,
  sessions: number,
  batch: number,
  seconds: number,
  batches: Float32Array[],
): Promise<RawSessions> {
  const workers = Array.from({ length: sessions }, () =>
    startThread(import.meta.url, 'session-loop', { model, batch, batches }),
  );
  try {
    await Promise.all(workers.map((w) => next(w)));
    const results = await Promise.all(
      workers.map((w) => {
        const answer = next<{ images: number; cpuUs: number }>(w);
        w.postMessage({ seconds });
        return answer;
      }),
    );
    const images = results.reduce((a, r) => a + r.images, 0);
    const cpuUs = results.reduce((a, r) => a + r.cpuUs, 0);
    return { perCpu: (images * 1e6) / cpuUs, each: results.map((r) => (r.images * 1e6) / r.cpuUs) };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** The worker's next message; its error, or its exit, rejects. */
function next<T>(worker: Worker): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const done = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (message: T) => {
      done();
      resolve(message);
    };
    const onExit = (code: number) => {
      done();
      reject(new Error(`session-loop worker exited with code ${code}`));
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}
