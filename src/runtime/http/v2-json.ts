import { markAsUntransferable } from 'node:worker_threads';
import type { V2InferRequest } from '../../api/v2.ts';
import {
  BACKSLASH,
  CLOSE_ARRAY,
  CLOSE_OBJECT,
  COLON,
  COMMA,
  DOT,
  isSpace,
  LOWER_E,
  MINUS,
  NINE,
  OPEN_ARRAY,
  OPEN_OBJECT,
  PLUS,
  QUOTE,
  UPPER_E,
  ZERO,
} from '../json-bytes.ts';

/**
 * The hot path of a JSON V2 infer request: the body's bytes read once, its `data` written straight
 * into a Float32Array (no UTF-8 decoding of the body, no array of a thousand JS numbers, no zod
 * pass over them, no second walk to flatten them).
 *
 * It accepts only the common, well-formed shape of a request (the keys below, each of the type the
 * schema wants, finite FP32 numbers in `data`) and returns undefined for anything else: the body
 * then takes the general path (fastify's JSON parser, zod, flattenTensorData), which says exactly
 * what is wrong as before. So every error message stays the general path's, and a body this parser
 * accepts is one the general path would have accepted, with the same values
 * (test/unit/runtime/v2-json.test.ts compares the two on generated and mutated bodies).
 */

/** `inputs[i].data` as read: every number in row-major order, and how deep the arrays nest. */
export interface FastTensorData {
  values: Float32Array;
  /** Nesting depth of the arrays, the outer one counting 1 (as flattenTensorData's maxDepth). */
  depth: number;
}

/** A request as zod would give it, its inputs' `data` read into `data` instead. */
export interface FastV2Request {
  readonly fast: true;
  request: V2InferRequest;
  /** One per input, in order. */
  data: FastTensorData[];
}

/** Thrown inside the parser when the body is not one it takes (never escapes parseV2Json). */
const BAIL = new Error('not on the fast path');

/** Exactly representable powers of ten: m / 10^k and m * 10^k are then correctly rounded. */
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);
const TWO_53 = 2 ** 53;
/** 2^-45: some hundred times the relative error of a 19-digit mantissa read in doubles. */
const MARGIN = 2 ** -45;
/**
 * The least double FP32 rounds to Infinity: halfway between FP32's largest value (2^128 - 2^104)
 * and 2^128, where round-half-to-even goes up (that largest value's last bit is odd).
 */
export const FP32_OVERFLOW = 2 ** 128 - 2 ** 103;

/**
 * The request, or undefined when it is not on the fast path (see above). A body nesting deeper
 * than `maxJsonDepth` is left at once to the general path, which refuses it.
 */
export function parseV2Json(body: Uint8Array, maxJsonDepth: number): FastV2Request | undefined {
  try {
    return new Parser(body, maxJsonDepth).request();
  } catch (error) {
    if (error === BAIL) return undefined;
    throw error;
  }
}

class Parser {
  private i = 0;

  constructor(
    private readonly s: Uint8Array,
    private readonly maxJsonDepth: number,
  ) {}

  request(): FastV2Request {
    const request: Partial<V2InferRequest> = {};
    const data: FastTensorData[] = [];
    this.object((key) => {
      if (key === 'id' && request.id === undefined) request.id = this.string();
      else if (key === 'inputs' && request.inputs === undefined) {
        const inputs: V2InferRequest['inputs'] = [];
        this.array(() => {
          const { input, values } = this.input();
          inputs.push(input);
          data.push(values);
        });
        if (inputs.length === 0) throw BAIL;
        request.inputs = inputs;
      } else if (key === 'outputs' && request.outputs === undefined) {
        const outputs: NonNullable<V2InferRequest['outputs']> = [];
        this.array(() => outputs.push(this.output()));
        request.outputs = outputs;
      } else if (key === 'parameters' && request.parameters === undefined) {
        const parameters: { binary_data_output?: boolean } = {};
        this.object((k) => {
          if (k !== 'binary_data_output' || parameters.binary_data_output !== undefined) throw BAIL;
          parameters.binary_data_output = this.boolean();
        });
        request.parameters = parameters;
      } else throw BAIL;
    });
    this.space();
    if (this.i !== this.s.length || request.inputs === undefined) throw BAIL;
    return { fast: true, request: request as V2InferRequest, data };
  }

  private input(): { input: V2InferRequest['inputs'][number]; values: FastTensorData } {
    let name: string | undefined;
    let datatype: string | undefined;
    let shape: number[] | undefined;
    let values: FastTensorData | undefined;
    this.object((key) => {
      if (key === 'name' && name === undefined) name = this.string();
      else if (key === 'datatype' && datatype === undefined) datatype = this.string();
      else if (key === 'shape' && shape === undefined) {
        const dims: number[] = [];
        this.array(() => dims.push(this.dimension()));
        if (dims.length === 0) throw BAIL;
        shape = dims;
      } else if (key === 'data' && values === undefined) values = this.tensor(shape);
      else throw BAIL;
    });
    if (name === undefined || datatype === undefined || shape === undefined || values === undefined)
      throw BAIL;
    return { input: { name, shape, datatype }, values };
  }

  private output(): NonNullable<V2InferRequest['outputs']>[number] {
    let name: string | undefined;
    let parameters: { binary_data?: boolean } | undefined;
    this.object((key) => {
      if (key === 'name' && name === undefined) name = this.string();
      else if (key === 'parameters' && parameters === undefined) {
        const p: { binary_data?: boolean } = {};
        this.object((k) => {
          if (k !== 'binary_data' || p.binary_data !== undefined) throw BAIL;
          p.binary_data = this.boolean();
        });
        parameters = p;
      } else throw BAIL;
    });
    if (name === undefined) throw BAIL;
    return parameters === undefined ? { name } : { name, parameters };
  }

  /**
   * `data`: nested arrays of numbers only, into a Float32Array sized by the shape when it came
   * first (as clients write it), else by the most numbers the rest of the body could hold.
   *
   * Each number becomes a double that FP32 rounds exactly as it rounds JSON.parse's (correctly
   * rounded) double. With at most 2^53 as the mantissa and a decimal exponent within ±22 the double
   * is JSON.parse's own (m / 10^k or m * 10^k of exact operands: one correct rounding). With up to
   * 19 digits (JSON.stringify writes 17 for most pixels k/255) the double is within a few units in
   * the last place; its FP32 rounding is then taken when a margin far wider than that error, on
   * both sides, rounds to the same FP32 value (FP32 rounding is monotonic, so the exact double in
   * between does too). Anything else, and the rare value that close to the midpoint of two FP32
   * numbers, is read by Number() itself.
   */
  private tensor(shape: number[] | undefined): FastTensorData {
    const s = this.s;
    const end = s.length;
    this.space();
    let i = this.i;
    if (s[i] !== OPEN_ARRAY) throw BAIL;
    i++;
    let capacity = shape ? shape.reduce((a, b) => a * b, 1) : 0;
    const most = (end - i + 1) >> 1; // "0," per value at the least
    if (!(capacity > 0 && capacity <= most)) capacity = most;
    // The data array nests in the body's object, its inputs array and the input's object.
    const maxDepth = this.maxJsonDepth - 3;
    let values = allocate(capacity);
    let n = 0;
    let depth = 1;
    let deepest = 1;
    let first = true; // just after a [: a ] or a value may come, not a ,
    for (;;) {
      let c = s[i]!;
      while (isSpace(c)) c = s[++i]!;
      if (c === CLOSE_ARRAY) {
        i++;
        if (--depth === 0) break;
        first = false;
        continue;
      }
      if (!first) {
        if (c !== COMMA) throw BAIL;
        c = s[++i]!;
        while (isSpace(c)) c = s[++i]!;
      }
      // Runs of zeros (most of an image's pixels), "0," each, stored without the number reader.
      while (c === ZERO && s[i + 1] === COMMA) {
        if (n === values.length) values = grown(values);
        values[n++] = 0;
        i += 2;
        c = s[i]!;
        while (isSpace(c)) c = s[++i]!;
      }
      if (c === OPEN_ARRAY) {
        i++;
        if (++depth > deepest) {
          if (depth > maxDepth) throw BAIL;
          deepest = depth;
        }
        first = true;
        continue;
      }
      first = false;
      // A number (anything else, or the end of the body, is for the general path).
      const start = i;
      const negative = c === MINUS;
      if (negative) c = s[++i]!;
      // The digits are summed as a double; how many were significant and where the point was
      // are read from positions afterwards (no bookkeeping per digit).
      let mantissa = 0;
      let digits = 0; // significant digits (leading zeros not counted)
      let exponent = 0;
      if (c === ZERO) c = s[++i]!;
      else if (c > ZERO && c <= NINE) {
        const from = i;
        do {
          mantissa = mantissa * 10 + (c - ZERO);
          c = s[++i]!;
        } while (c >= ZERO && c <= NINE);
        digits = i - from;
      } else throw BAIL;
      if (c === DOT) {
        c = s[++i]!;
        if (!(c >= ZERO && c <= NINE)) throw BAIL;
        const point = i;
        if (mantissa === 0) while (c === ZERO) c = s[++i]!;
        const significant = i;
        while (c >= ZERO && c <= NINE) {
          mantissa = mantissa * 10 + (c - ZERO);
          c = s[++i]!;
        }
        digits += i - significant;
        exponent = point - i;
      }
      if (c === LOWER_E || c === UPPER_E) {
        c = s[++i]!;
        let sign = 1;
        if (c === PLUS || c === MINUS) {
          if (c === MINUS) sign = -1;
          c = s[++i]!;
        }
        if (!(c >= ZERO && c <= NINE)) throw BAIL;
        let e = 0;
        do {
          if (e < 100_000) e = e * 10 + (c - ZERO);
          c = s[++i]!;
        } while (c >= ZERO && c <= NINE);
        exponent += sign * e;
      }
      let value: number;
      if (mantissa === 0) value = 0;
      else {
        if (digits <= 19 && exponent >= -22 && exponent <= 22) {
          value = exponent < 0 ? mantissa / POW10[-exponent]! : mantissa * POW10[exponent]!;
          if (mantissa >= TWO_53) {
            const low = Math.fround(value * (1 - MARGIN));
            value =
              low === Math.fround(value * (1 + MARGIN)) ? low : numberAt(s, start + (negative ? 1 : 0), i);
          }
        } else value = numberAt(s, start + (negative ? 1 : 0), i);
        // Beyond FP32's range it would be ±Infinity: the general path names the value.
        if (value >= FP32_OVERFLOW) throw BAIL;
      }
      if (n === values.length) values = grown(values);
      values[n] = negative ? -value : value;
      n++;
      if (i >= end) throw BAIL;
    }
    this.i = i;
    return { values: n === values.length ? values : values.subarray(0, n), depth: deepest };
  }

  /** A shape dimension: a plain non-negative integer (anything else is for the general path). */
  private dimension(): number {
    const s = this.s;
    this.space();
    let i = this.i;
    let c = s[i]!;
    let value = 0;
    if (c === ZERO) c = s[++i]!;
    else if (c > ZERO && c <= NINE) {
      do {
        value = value * 10 + (c - ZERO);
        c = s[++i]!;
      } while (c >= ZERO && c <= NINE && i - this.i < 15);
    } else throw BAIL;
    if (c === DOT || c === LOWER_E || c === UPPER_E || (c >= ZERO && c <= NINE)) throw BAIL;
    this.i = i;
    return value;
  }

  private boolean(): boolean {
    const s = this.s;
    this.space();
    const i = this.i;
    // true, false
    if (s[i] === 0x74 && s[i + 1] === 0x72 && s[i + 2] === 0x75 && s[i + 3] === 0x65) {
      this.i += 4;
      return true;
    }
    if (s[i] === 0x66 && s[i + 1] === 0x61 && s[i + 2] === 0x6c && s[i + 3] === 0x73 && s[i + 4] === 0x65) {
      this.i += 5;
      return false;
    }
    throw BAIL;
  }

  /** A JSON string; one with escapes or beyond ASCII is decoded by JSON.parse (rare here). */
  private string(): string {
    const s = this.s;
    this.space();
    if (s[this.i] !== QUOTE) throw BAIL;
    const start = this.i;
    let i = start + 1;
    let plain = true;
    let text = '';
    for (;;) {
      const c = s[i];
      if (c === QUOTE) break;
      if (c === undefined || c < 0x20) throw BAIL; // the end of the body, or a control character
      if (c === BACKSLASH) {
        plain = false;
        i += 2;
        continue;
      }
      if (c >= 0x80) plain = false;
      else text += String.fromCharCode(c);
      i++;
    }
    this.i = i + 1;
    if (plain) return text;
    try {
      return JSON.parse(
        Buffer.from(s.buffer, s.byteOffset + start, i + 1 - start).toString('utf8'),
      ) as string;
    } catch {
      throw BAIL;
    }
  }

  /** `{ "key": value, ... }`, calling `member` with the cursor on each value. */
  private object(member: (key: string) => void): void {
    this.sequence(OPEN_OBJECT, CLOSE_OBJECT, () => {
      const key = this.string();
      this.space();
      if (this.s[this.i] !== COLON) throw BAIL;
      this.i++;
      member(key);
    });
  }

  /** `[ value, ... ]`, calling `element` with the cursor on each value. */
  private array(element: () => void): void {
    this.sequence(OPEN_ARRAY, CLOSE_ARRAY, element);
  }

  /** `open item, item, ... close` (or `open close`), `item` reading each one. */
  private sequence(open: number, close: number, item: () => void): void {
    const s = this.s;
    this.space();
    if (s[this.i] !== open) throw BAIL;
    this.i++;
    this.space();
    if (s[this.i] === close) {
      this.i++;
      return;
    }
    for (;;) {
      item();
      this.space();
      const c = s[this.i++];
      if (c === close) return;
      if (c !== COMMA) throw BAIL;
    }
  }

  private space(): void {
    const s = this.s;
    let i = this.i;
    while (i < s.length && isSpace(s[i]!)) i++;
    this.i = i;
  }
}

/**
 * Small tensors (a digit or a few) come from a shared slab rather than each from its own
 * ArrayBuffer: V8 tracks and sweeps every ArrayBuffer on its GC threads, and thousands of 3 KB ones
 * a second cost more than parsing them. The slab is marked untransferable, so the inference pool
 * copies such a tensor into its batch (as it does any tensor batched with others) instead of
 * moving a buffer other requests share. Large tensors get their own buffer, which can move.
 */
const SLAB_FLOATS = 64 * 1024;
let slab = newSlab();
let slabUsed = 0;

function newSlab(): Float32Array {
  const fresh = new Float32Array(SLAB_FLOATS);
  markAsUntransferable(fresh.buffer);
  return fresh;
}

function allocate(floats: number): Float32Array {
  if (floats > SLAB_FLOATS / 16) return new Float32Array(floats);
  if (slabUsed + floats > SLAB_FLOATS) {
    slab = newSlab();
    slabUsed = 0;
  }
  const view = slab.subarray(slabUsed, slabUsed + floats);
  slabUsed += floats;
  return view;
}

/** `values` in a buffer twice its size (a body with more numbers than its shape said). */
function grown(values: Float32Array): Float32Array {
  const larger = new Float32Array(Math.max(16, values.length * 2));
  larger.set(values);
  return larger;
}

/** The unsigned JSON number between `start` and `end`, read by Number() (exact, slower). */
function numberAt(s: Uint8Array, start: number, end: number): number {
  let text = '';
  for (let k = start; k < end; k++) text += String.fromCharCode(s[k]!);
  return Number(text);
}
