import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/** The model file could not be read or its digest does not match the expected one. */
export class ModelLoadError extends Error {
  readonly code = 'model_load_failed';
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
    throw new ModelLoadError(`model ${path} has sha256 ${sha256}, expected ${expectedSha256.toLowerCase()}`);
  }
  return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), sha256 };
}
