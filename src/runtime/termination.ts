import { accessSync, constants, existsSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** The kubelet keeps at most 4096 bytes of a termination message. */
const LIMIT = 4000;

/**
 * Writes `Reason: message` to the container's termination-message file, which the operator reads
 * to explain Degraded (same format as `kinfer fetch-model`). Written when the file exists and is
 * writable (in a pod: the kubelet's `/dev/termination-log`) or can be created; never throws.
 * Returns whether it was written.
 */
export function writeTerminationMessage(path: string, reason: string, message: string): boolean {
  try {
    // In a pod the kubelet bind-mounts the file (mode 0666) into /dev, which a non-root runtime
    // cannot write to: the file's own permission is what counts. Elsewhere it is created only
    // where the directory is writable.
    accessSync(existsSync(path) ? path : dirname(path), constants.W_OK);
    const text = `${reason}: ${message}`;
    writeFileSync(path, `${text.length > LIMIT ? `${text.slice(0, LIMIT - 3)}...` : text}\n`);
    return true;
  } catch {
    return false;
  }
}
