import { isMarkedAsUntransferable } from 'node:worker_threads';

/** `bytes` spans its whole ArrayBuffer: nothing else is a view of that memory. */
export function ownsWholeBuffer(bytes: Uint8Array): boolean {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
}

/**
 * `bytes` itself when it owns its whole buffer (which can then move to another thread), else a
 * copy that does (a Uint8Array of its own: a Buffer's `slice` would be a view of the same memory,
 * such as Node's shared pool of small Buffers, which cannot move).
 */
export function ownBuffer(bytes: Uint8Array): Uint8Array {
  return ownsWholeBuffer(bytes) && !isMarkedAsUntransferable(bytes.buffer) ? bytes : new Uint8Array(bytes);
}
