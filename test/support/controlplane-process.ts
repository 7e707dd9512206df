import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readFileSync, rmSync } from 'node:fs';

/**
 * One component process. It runs in its own process group (detached), so stopping it also stops
 * anything it forked, and a Ctrl-C in the terminal reaches only the harness, which then stops the
 * components in order instead of having them all die at once.
 */
export class ManagedProcess {
  readonly exited: Promise<number | null>;
  private child: ChildProcess;
  private exitCode: number | null | undefined;
  /** True once stop() was called: the exit that follows is expected. */
  stopping = false;

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    readonly logPath: string,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    const log = openSync(logPath, 'a');
    try {
      this.child = spawn(command, args, {
        detached: true,
        stdio: ['ignore', log, log],
        // kcp stops itself when this process disappears, even after a SIGKILL (see main.go).
        env: { ...env, KCP_EXIT_WITH_PARENT: '1' },
      });
    } finally {
      closeSync(log);
    }
    live.add(this);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        live.delete(this);
        resolve(this.exitCode);
      });
      this.child.on('error', (error) => {
        this.exitCode = -1;
        live.delete(this);
        appendNote(logPath, `spawn failed: ${error.message}`);
        resolve(-1);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** The last lines of the component's log, for error messages. */
  tail(lines = 25): string {
    try {
      return readFileSync(this.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the process has exited. */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopping = true;
    if (!this.running) return;
    signalGroup(this.child.pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(this.child.pid, 'SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    // Anything the component forked into its group goes too.
    signalGroup(this.child.pid, 'SIGKILL');
  }

  killNow(): void {
    signalGroup(this.child.pid, 'SIGKILL');
  }
}

function appendNote(path: string, note: string): void {
  try {
    appendFileSync(path, `${note}\n`);
  } catch {
    // The log directory may already be gone during teardown.
  }
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

// Last-resort cleanup when the harness's process exits without calling stop() (an uncaught
// error, process.exit() from a test runner, a signal): kill every live component and remove the
// temp directories synchronously, because an 'exit' listener cannot await anything.
const live = new Set<ManagedProcess>();
const tempDirs = new Set<string>();

export function registerTempDir(dir: string): void {
  tempDirs.add(dir);
}

export function releaseTempDir(dir: string): void {
  tempDirs.delete(dir);
}

let hooksInstalled = false;

/**
 * `signals: false` leaves SIGINT/SIGTERM to the caller (the cluster-up script stops gracefully);
 * the 'exit' hook is always installed.
 */
export function installExitHooks(options: { signals?: boolean } = {}): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killEverythingNow);
  if (options.signals === false) return;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      killEverythingNow();
      // Keep the default behaviour (exit) unless someone else also listens for this signal
      // (vitest, the cluster-up script) and decides what happens next.
      if (process.listenerCount(signal) <= 1) process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    });
  }
}

export function killEverythingNow(): void {
  for (const proc of live) proc.killNow();
  live.clear();
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Best effort: the process is exiting.
    }
  }
  tempDirs.clear();
}

/** Whether a process with this id exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
