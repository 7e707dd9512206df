/**
 * The one exponential backoff of the codebase: reconnecting clients, the job runner's batch
 * retries, the informers' list/watch retries, the work queue's per-key retries and the demo page.
 */
export interface BackoffOptions {
  /** Delay before the first retry (attempt 0). */
  initialDelayMs: number;
  /** Upper bound of any delay. */
  maxDelayMs: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /**
   * Fraction of the delay that is randomised away (0: none, 0.5: a delay in [half, full],
   * 1: "full jitter"), so that many clients cut off at once do not come back in lockstep.
   */
  jitter?: number;
}

export const defaultBackoff: Required<BackoffOptions> = {
  initialDelayMs: 250,
  maxDelayMs: 10_000,
  factor: 2,
  jitter: 0.5,
};

/** Delay before retry `attempt` (0-based): exponential up to the cap, minus a random share. */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const { initialDelayMs, maxDelayMs, factor = 2, jitter = 0 } = options;
  const base = Math.min(maxDelayMs, initialDelayMs * factor ** Math.max(0, attempt));
  return Math.round(base * (1 - jitter * random()));
}
