import type ort from 'onnxruntime-node';

/** The 20 runs every raw measurement makes first (past onnxruntime's first-run allocations), feeds in turn. */
export async function warmUp(
  session: ort.InferenceSession,
  feeds: ort.InferenceSession.FeedsType[],
): Promise<void> {
  for (let i = 0; i < 20; i++) await session.run(feeds[i % feeds.length]!);
}

/**
 * Runs `session` back to back on `feeds` (in turn) for `seconds`, with `cpuSeconds` read at both
 * ends (the caller's choice: this thread, this process): how raw onnxruntime is measured.
 */
export async function runFor(
  session: ort.InferenceSession,
  feeds: ort.InferenceSession.FeedsType[],
  seconds: number,
  cpuSeconds: () => number,
): Promise<{ runs: number; wallSeconds: number; cpuSeconds: number }> {
  let runs = 0;
  const start = performance.now();
  const cpuStart = cpuSeconds();
  const deadline = start + seconds * 1000;
  while (performance.now() < deadline) await session.run(feeds[runs++ % feeds.length]!);
  return { runs, wallSeconds: (performance.now() - start) / 1000, cpuSeconds: cpuSeconds() - cpuStart };
}

/** CPU-seconds of the calling thread so far (process.threadCpuUsage). */
export function threadCpuSeconds(): number {
  const { user, system } = process.threadCpuUsage();
  return (user + system) / 1e6;
}

/** CPU-seconds of the whole process so far, every thread (process.cpuUsage). */
export function processCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}
