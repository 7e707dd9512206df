import { readFileSync, readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** What lowering a thread's priority did: its thread id and nice value, or why it could not. */
export type PriorityResult = { tid: number; nice: number } | { error: string };

/**
 * Lowers the calling thread's OS scheduling priority by `increment` nice levels (capped at 19),
 * leaving the rest of the process as it is. Linux only: there a thread has its own nice value,
 * set through its thread id (found via /proc/thread-self), whereas elsewhere `setPriority` would
 * renice the whole process, so there nothing is done and the error says why.
 */
export function lowerThreadPriority(increment: number): PriorityResult {
  let tid: number;
  try {
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return { error: 'per-thread priorities need Linux (/proc/thread-self)' };
  }
  try {
    const nice = Math.min(19, getPriority(tid) + increment);
    if (increment > 0) setPriority(tid, nice);
    return { tid, nice: getPriority(tid) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** A thread's nice value as the kernel reports it (/proc/<pid>/task/<tid>/stat, field 19). */
export function threadNice(pid: number, tid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  // After "tid (comm) ": state is field 3, so nice (field 19) is the 17th from there; comm may
  // itself hold spaces and parentheses, hence the last ")".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[19 - 3]);
}
