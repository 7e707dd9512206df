import { readFileSync } from 'node:fs';

/** A process's resident memory now (MiB), from /proc (Linux; 0 elsewhere or once it ended). */
export function residentMiB(pid: number): number {
  try {
    const kib = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib === undefined ? 0 : Number(kib) / 1024;
  } catch {
    return 0;
  }
}

/**
 * Samples a process's resident memory every `everyMs` until the returned function is called, which
 * gives the largest reading (MiB): the figure a container's memory limit is held to, per phase of a
 * benchmark (the kernel's own peak, VmHWM, covers the process's whole life instead).
 */
export function watchPeakRss(pid: number, everyMs = 50): () => number {
  let peak = residentMiB(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, residentMiB(pid));
  }, everyMs);
  return () => {
    clearInterval(timer);
    return Math.max(peak, residentMiB(pid));
  };
}
