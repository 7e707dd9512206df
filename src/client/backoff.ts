export interface BackoffOptions {
  /** Delay before the first reconnect attempt. */
  initialDelayMs: number;
  /** Upper bound of any delay. */
  maxDelayMs: number;
  /** Growth per attempt. */
  factor: number;
  /** Fraction of the delay that is randomised (0: none, 1: "full jitter"). */
  jitter: number;
}

export const defaultBackoff: BackoffOptions = {
  initialDelayMs: 250,
  maxDelayMs: 10_000,
  factor: 2,
  jitter: 0.5,
};

/**
 * Delay before reconnect attempt `attempt` (0-based): exponential up to the cap, minus a random
 * share so that many clients cut off at once do not come back in lockstep.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const base = Math.min(options.maxDelayMs, options.initialDelayMs * options.factor ** attempt);
  return Math.round(base * (1 - options.jitter * random()));
}
