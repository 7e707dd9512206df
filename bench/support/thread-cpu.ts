import { readdirSync, readFileSync } from 'node:fs';

/** CPU time (ms) a process's threads used, by role, from /proc (Linux; empty elsewhere). */
export type ThreadCpu = Map<string, number>;

const TICK_MS = 10; // USER_HZ is 100 on Linux

/**
 * A Node process's threads grouped by what they do: `main` (the event loop), `workers` (worker
 * threads at the main thread's priority: the inference workers), `niced workers` (worker threads
 * at a lower priority: the preprocessing threads), `libuv pool` (zlib, fs), `V8 helpers` (GC,
 * compilation) and `other`. The names are those Node and libuv give their threads.
 */
export function threadCpu(pid: number): ThreadCpu {
  const cpu: ThreadCpu = new Map();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return cpu;
  }
  const threads = tids.flatMap((tid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields 14 and 15 (utime, stime) and 19 (nice), counted from 3 after the name.
      const ms = (Number(fields[14 - 3]) + Number(fields[15 - 3])) * TICK_MS;
      return [{ name, ms, nice: Number(fields[19 - 3]) }];
    } catch {
      return []; // the thread ended meanwhile
    }
  });
  const mainNice = threads.find((t) => t.name === 'MainThread')?.nice ?? 0;
  for (const { name, ms, nice } of threads) {
    const role =
      name === 'MainThread'
        ? 'main'
        : name === 'WorkerThread'
          ? nice > mainNice
            ? 'niced workers'
            : 'workers'
          : name === 'libuv-worker'
            ? 'libuv pool'
            : name === 'V8Worker'
              ? 'V8 helpers'
              : 'other';
    cpu.set(role, (cpu.get(role) ?? 0) + ms);
  }
  return cpu;
}

/** CPU used between two readings, by role (threads started in between count from zero). */
export function cpuBetween(before: ThreadCpu, after: ThreadCpu): ThreadCpu {
  return new Map([...after].map(([role, ms]) => [role, ms - (before.get(role) ?? 0)]));
}

/** Busy and total jiffies of the whole machine (/proc/stat), to tell how loaded it was. */
export function machineCpu(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    const total = values.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: 0, total: 0 };
  }
}
