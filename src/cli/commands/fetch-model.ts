import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, writeFileSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { createLogger } from '../../log.ts';
import { backoffDelay } from '../../shared/backoff.ts';
import { parseOptions } from '../../shared/options.ts';
import type { CommandHelp } from '../usage.ts';

/** The downloaded file's digest is not the one the ModelDeployment asked for. */
export class ChecksumMismatchError extends Error {
  readonly code = 'checksum_mismatch';
  readonly reason = 'ModelChecksumMismatch';
}
/** The model could not be downloaded (HTTP error, network, timeout). */
export class FetchFailedError extends Error {
  readonly code = 'fetch_failed';
  readonly reason = 'ModelFetchFailed';
}

export const FetchModelOptionsSchema = z.object({
  uri: z.url({ protocol: /^https?$/ }).describe('http(s) URL of the model to download'),
  sha256: z
    .string()
    .regex(/^[a-f0-9]{64}$/, 'must be 64 lowercase hex digits')
    .describe('the sha256 the downloaded file must have; any other is refused'),
  out: z.string().min(1).describe('where to leave the verified file (it appears only once verified)'),
  timeoutSeconds: z.coerce
    .number()
    .int()
    .min(1)
    .max(3600)
    .default(300)
    .describe('longest one download attempt may take'),
  attempts: z.coerce
    .number()
    .int()
    .min(1)
    .max(10)
    .default(3)
    .describe(
      'downloads tried at most, with backoff, when the network or the server fails (not on a mismatch)',
    ),
  terminationLog: z
    .string()
    .default('/dev/termination-log')
    .describe("where the kubelet reads the container's termination message (the operator puts it in status)"),
});

export const help: CommandHelp = {
  synopsis: '--uri URL --sha256 HEX --out PATH [flags]',
  about:
    "Downloads a model and verifies its sha256 (the predictor pod's init container). On failure it exits 1 and leaves ModelFetchFailed or ModelChecksumMismatch, with the reason, as the termination message.",
  settings: FetchModelOptionsSchema,
};
export type FetchModelOptions = z.output<typeof FetchModelOptionsSchema>;

/**
 * Streams `uri` to a temporary file beside `out` while hashing it, and renames it into place only
 * if the sha256 matches: `out` either does not exist or holds exactly the expected bytes.
 * Transient failures (network, 5xx, 429) are retried with backoff; a checksum mismatch is not.
 */
export async function fetchModel(options: FetchModelOptions): Promise<{ bytes: number; elapsedMs: number }> {
  const log = createLogger('fetch-model');
  const started = performance.now();
  await mkdir(dirname(options.out), { recursive: true });
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= options.attempts; attempt++) {
    const temporary = join(dirname(options.out), `.${process.pid}.${attempt}.partial`);
    try {
      const response = await fetch(options.uri, {
        signal: AbortSignal.timeout(options.timeoutSeconds * 1000),
      });
      if (!response.ok || !response.body) {
        // An unread body can crash the process when the server then closes (nodejs/undici#5360).
        await response.body?.cancel();
        const error = new FetchFailedError(`GET ${options.uri}: HTTP ${response.status}`);
        if (response.status < 500 && response.status !== 429) throw Object.assign(error, { permanent: true });
        throw error;
      }
      const hash = createHash('sha256');
      let bytes = 0;
      const digest = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          hash.update(chunk);
          bytes += chunk.length;
          callback(null, chunk);
        },
      });
      await pipeline(
        Readable.fromWeb(response.body as never),
        digest,
        createWriteStream(temporary, { mode: 0o644 }),
      );
      const actual = hash.digest('hex');
      if (actual !== options.sha256) {
        throw new ChecksumMismatchError(`sha256 of ${options.uri} is ${actual}, expected ${options.sha256}`);
      }
      await rename(temporary, options.out);
      const elapsedMs = Math.round(performance.now() - started);
      log.info(
        { event: 'model.fetched', uri: options.uri, bytes, attempt, elapsedMs },
        'model downloaded and verified',
      );
      return { bytes, elapsedMs };
    } catch (error) {
      await rm(temporary, { force: true });
      lastError = error instanceof Error ? error : new Error(String(error));
      if (lastError instanceof ChecksumMismatchError || (lastError as { permanent?: boolean }).permanent)
        break;
      if (attempt < options.attempts) {
        const delay = backoffDelay(attempt - 1, { initialDelayMs: 500, maxDelayMs: 30_000 });
        log.warn(
          { event: 'model.fetch_retry', attempt, err: lastError.message, retryInMs: delay },
          'download failed; retrying',
        );
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
  if (lastError instanceof ChecksumMismatchError) throw lastError;
  throw lastError instanceof FetchFailedError
    ? lastError
    : new FetchFailedError(lastError?.message ?? 'download failed');
}

export async function run(argv: string[]): Promise<void> {
  const { options } = parseOptions(FetchModelOptionsSchema, argv);
  try {
    await fetchModel(options);
  } catch (error) {
    const reason =
      error instanceof ChecksumMismatchError || error instanceof FetchFailedError
        ? error.reason
        : 'ModelFetchFailed';
    const message = error instanceof Error ? error.message : String(error);
    // `Reason: message` is what the operator turns into the Degraded condition.
    if (existsSync(dirname(options.terminationLog))) {
      try {
        writeFileSync(options.terminationLog, `${reason}: ${message}\n`);
      } catch {
        // Not in a pod (or not writable): stderr below still says it.
      }
    }
    process.stderr.write(`kinfer fetch-model: ${reason}: ${message}\n`);
    process.exit(1);
  }
}
