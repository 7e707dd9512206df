import { type LevelWithSilent, type Logger, pino } from 'pino';

/**
 * One pino root logger for the process; every module takes a child with `createLogger('module')`.
 *
 * Conventions (design.md): every line carries `module` (from the child) and an `event` naming what
 * happened (`model.loaded`, `request.failed`, ...); a duration, when known, goes in `elapsedMs`.
 * Never log a secret (the auth token, request bodies).
 *
 *   const log = createLogger('runtime.predictor');
 *   log.info({ event: 'model.loaded', elapsedMs: 12.5, sha256 }, 'model loaded');
 */
export type { Logger } from 'pino';

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

let root: Logger | undefined;
// Children keep the level they were created with, so setLogLevel updates the ones made here.
const children: Logger[] = [];

function rootLogger(): Logger {
  root ??= pino({
    level: process.env.KINFER_LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
  return root;
}

/** A child logger tagged with `module`. */
export function createLogger(module: string, bindings: Record<string, unknown> = {}): Logger {
  const child = rootLogger().child({ module, ...bindings });
  children.push(child);
  return child;
}

/** Sets the level of the root logger and of every logger made by `createLogger`. */
export function setLogLevel(level: LevelWithSilent): void {
  rootLogger().level = level;
  for (const child of children) child.level = level;
}

/** Milliseconds since `start` (from `performance.now()`), rounded to 0.01 ms, for `elapsedMs`. */
export const elapsedMs = (start: number): number => Math.round((performance.now() - start) * 100) / 100;
