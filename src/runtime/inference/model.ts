import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/**
 * The model cannot be served. `reason` is what the pod's termination message starts with (the
 * operator's Degraded reason), the same words `kinfer fetch-model` uses.
 */
export class ModelLoadError extends Error {
  readonly code: string = 'model_load_failed';
  readonly reason: string = 'ModelLoadFailed';
}

/** The model file's sha256 is not the expected one. */
export class ModelChecksumMismatchError extends ModelLoadError {
  override readonly code = 'checksum_mismatch';
  override readonly reason = 'ModelChecksumMismatch';
}

export interface ModelFile {
  bytes: Uint8Array;
  sha256: string;
}

/** Reads the model and checks its sha256 when one is expected (hex, case-insensitive). */
export async function readModel(path: string, expectedSha256?: string): Promise<ModelFile> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new ModelLoadError(`cannot read model ${path}: ${(error as Error).message}`);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (expectedSha256 && expectedSha256.toLowerCase() !== sha256) {
    throw new ModelChecksumMismatchError(
      `sha256 of ${path}: expected ${expectedSha256.toLowerCase()}, got ${sha256}`,
    );
  }
  return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), sha256 };
}
