import { parentPort, workerData } from 'node:worker_threads';
import { InvalidInputError } from '../errors.ts';
import { type CompressedFormat, type Inflated, inflateBody } from '../http/inflate.ts';
import {
  type ParsedBinaryHeader,
  type ParsedJson,
  parseBinaryHeader,
  parseJsonBody,
} from '../http/json-parse.ts';
import type { FastTensorData } from '../http/v2-json.ts';
import { JobInputError, type PreprocessJob, runJobs } from './jobs.ts';
import { ownBuffer } from './own-buffer.ts';
import { lowerThreadPriority, type PriorityResult } from './priority.ts';

/** What a preprocessing thread is started with. */
export interface PreprocessThreadData {
  /** Nice levels below the process's priority this thread runs at (0: the same). */
  niceIncrement: number;
}

/** Messages between the preprocessing pool (main thread) and one of its threads. */
export type PreprocessRequest =
  | { id: number; jobs: PreprocessJob[] }
  /** A JSON request body to parse (json-parse.ts), its bytes moved here. */
  | { id: number; json: { bytes: Uint8Array; v2: boolean; maxJsonDepth: number } }
  /** A binary tensor data body whose first `headerLength` bytes (its JSON header) to parse. */
  | { id: number; binaryHeader: { bytes: Uint8Array; headerLength: number; maxJsonDepth: number } }
  /** A compressed request body to inflate whole (inflate.ts), its bytes moved here. */
  | { id: number; inflate: { bytes: Uint8Array; format: CompressedFormat; maxBytes: number } };
export type PreprocessReply =
  | { id: number; images: Float32Array }
  | { id: number; parsed: ParsedJson }
  /** The header read, and the body's bytes moved back (the tensor after the header is in them). */
  | { id: number; binary: { header: ParsedBinaryHeader; bytes: Uint8Array } }
  /** The body inflated (its bytes moved back), too large, or not valid. */
  | { id: number; inflated: Inflated }
  /** `index` and `invalid`: the caller's fault, in its job `index`; anything else is ours. */
  | { id: number; message: string; invalid: boolean; index: number };
/** A thread's first message, once it can take work: how its priority was set. */
export interface PreprocessReady {
  ready: true;
  priority: PriorityResult;
}

// A preprocessing thread: PNG decoding, stroke rendering and normalisation, never on the event
// loop, and at a lower priority than the event loop and the model, so that when the cores are
// short the ordinary requests go first and this work waits.
const port = parentPort;
const { niceIncrement } = (workerData ?? { niceIncrement: 0 }) as PreprocessThreadData;
const priority = lowerThreadPriority(niceIncrement);
port?.on('message', (request: PreprocessRequest) => {
  const { id } = request;
  try {
    if ('json' in request) {
      const { bytes, v2, maxJsonDepth } = request.json;
      const parsed = parseJsonBody(bytes, v2, maxJsonDepth);
      const tensors =
        parsed.kind === 'fast'
          ? parsed.body.data
          : parsed.kind === 'json' && parsed.data
            ? [parsed.data]
            : [];
      port.postMessage({ id, parsed } satisfies PreprocessReply, movable(tensors));
      return;
    }
    if ('binaryHeader' in request) {
      const { bytes, headerLength, maxJsonDepth } = request.binaryHeader;
      const header = parseBinaryHeader(
        bytes.subarray(0, headerLength),
        maxJsonDepth,
        headerLength === bytes.length,
      );
      const transfer = [
        bytes.buffer as ArrayBuffer,
        ...movable(header.kind === 'json' && header.data ? [header.data] : []),
      ];
      port.postMessage({ id, binary: { header, bytes } } satisfies PreprocessReply, transfer);
      return;
    }
    if ('inflate' in request) {
      const { bytes, format, maxBytes } = request.inflate;
      const inflated = inflateBody(bytes, format, maxBytes);
      if (inflated.kind === 'inflated') inflated.bytes = ownBuffer(inflated.bytes);
      const transfer = inflated.kind === 'inflated' ? [inflated.bytes.buffer as ArrayBuffer] : [];
      port.postMessage({ id, inflated } satisfies PreprocessReply, transfer);
      return;
    }
    const images = runJobs(request.jobs);
    port.postMessage({ id, images } satisfies PreprocessReply, [images.buffer as ArrayBuffer]);
  } catch (error) {
    port.postMessage({
      id,
      message: (error as Error).message,
      invalid: error instanceof InvalidInputError,
      index: error instanceof JobInputError ? error.index : -1,
    } satisfies PreprocessReply);
  }
});
port?.postMessage({ ready: true, priority } satisfies PreprocessReady);

/**
 * The buffers of the tensors a parse read, to move back rather than copy. A small tensor the fast
 * path took from its shared slab (which cannot move) gets its own buffer first.
 */
function movable(tensors: FastTensorData[]): ArrayBuffer[] {
  return tensors.map((tensor) => {
    if (tensor.values.byteLength !== tensor.values.buffer.byteLength) tensor.values = tensor.values.slice();
    return tensor.values.buffer as ArrayBuffer;
  });
}
