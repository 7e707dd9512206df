import { accessSync, constants, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** The kubelet keeps at most 4096 bytes of a termination message. */
const LIMIT = 4000;

/**
 * Writes `Reason: message` to the container's termination-message file, which the operator reads
 * to explain Degraded (same format as `kinfer fetch-model`). Written only where the directory
 * exists and is writable (in a pod, `/dev`); never throws. Returns whether it was written.
 */
export function writeTerminationMessage(path: string, reason: string, message: string): boolean {
  try {
    accessSync(dirname(path), constants.W_OK);
    const text = `${reason}: ${message}`;
    writeFileSync(path, `${text.length > LIMIT ? `${text.slice(0, LIMIT - 3)}...` : text}\n`);
    return true;
  } catch {
    return false;
  }
}
