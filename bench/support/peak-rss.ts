import { readFileSync } from 'node:fs';

/**
 * A memory field of a process's /proc/PID/status in KiB (`VmRSS` now, `VmHWM` its peak so far):
 * NaN when the field is missing; throws when the process is gone (Linux only).
 */
export function statusKiB(pid: number, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : Number.NaN;
}

/** A process's resident memory now (MiB), from /proc (Linux; 0 elsewhere or once it ended). */
export function residentMiB(pid: number): number {
  try {
    const kib = statusKiB(pid, 'VmRSS');
    return Number.isNaN(kib) ? 0 : kib / 1024;
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
