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
  return movesWhole(bytes) ? bytes : new Uint8Array(bytes);
}

/** `bytes` spans its whole buffer and that buffer may be moved (transferred or detached). */
function movesWhole(bytes: Uint8Array): boolean {
  return ownsWholeBuffer(bytes) && !isMarkedAsUntransferable(bytes.buffer);
}

/** ES2024's ArrayBuffer.prototype.transfer, which TypeScript's ES2023 library does not declare. */
type Transferable = ArrayBuffer & { transfer(newByteLength: number): ArrayBuffer };

/**
 * Frees `bytes`' memory now instead of at a later garbage collection, by detaching its
 * ArrayBuffer (`transfer(0)`: every view of it becomes empty). For memory nobody will read again
 * and nothing else refers to, that `bytes` spans whole: on the event loop's isolate such buffers
 * count as external memory until a collection finds them, and external memory growing is what
 * makes V8 start full collections. Returns whether it freed it (a view of a larger buffer, such as
 * Node's shared pool of small Buffers, or an untransferable buffer, is left alone).
 */
export function release(bytes: Uint8Array): boolean {
  const buffer = bytes.buffer;
  if (!(buffer instanceof ArrayBuffer) || !movesWhole(bytes)) return false;
  (buffer as Transferable).transfer(0);
  return true;
}
