import { InvalidInputError } from '../errors.ts';

/** The largest finite FP32 value; a double beyond it (rounded) is Infinity as FP32. */
export const FP32_MAX = 3.4028234663852886e38;

/** Why `value` is not a finite FP32 number, or undefined when it is one. */
export function fp32Problem(value: number): string | undefined {
  if (!Number.isFinite(value)) return `expected a finite FP32 number, got ${value}`;
  if (!Number.isFinite(Math.fround(value))) {
    return `expected a finite FP32 number, got ${value}, outside the FP32 range (±${Math.fround(FP32_MAX)})`;
  }
  return undefined;
}

/**
 * Index of the first value of `values` that is NaN or ±Infinity, or -1: the check every binary
 * tensor runs on its 784 values per image. Over the bits as int32 (an exponent of all ones is not
 * finite), first one branchless pass (the exponent plus one carries into the sign bit exactly when
 * it is all ones), then a search only when that found one: 5x a Float32 or Uint32 loop.
 */
export function firstNonFinite(values: Float32Array): number {
  const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
  const n = bits.length;
  let any = 0;
  for (let i = 0; i < n; i++) any |= ((bits[i]! & 0x7f800000) + 0x00800000) | 0;
  if (any >= 0) return -1;
  for (let i = 0; i < n; i++) if ((bits[i]! & 0x7f800000) === 0x7f800000) return i;
  return -1;
}

/**
 * V2 `data`, flat or nested row-major (at most `maxDepth` levels, the tensor's rank), into a
 * Float32Array of exactly `expected` finite FP32 numbers. Hand-written rather than zod (a 1,024-image
 * request carries 800k numbers) and iterative, so no client-controlled depth reaches the stack.
 */
export function flattenTensorData(
  data: unknown,
  expected: number,
  field: string,
  maxDepth = 32,
): Float32Array {
  const out = new Float32Array(expected);
  let n = 0;
  if (!Array.isArray(data)) {
    throw new InvalidInputError(`${field}[0]: expected a number or a nested array, got ${typeName(data)}`);
  }
  walkNested(
    data,
    (v) => {
      if (typeof v !== 'number') {
        throw new InvalidInputError(
          `${field}[${n}]: expected a number or a nested array, got ${typeName(v)}`,
        );
      }
      const problem = fp32Problem(v);
      if (problem) throw new InvalidInputError(`${field}[${n}]: ${problem}`);
      if (n < expected) out[n] = v;
      n++;
    },
    (depth) => {
      if (depth > maxDepth) throw new InvalidInputError(nestedTooDeep(field, maxDepth));
    },
  );
  if (n !== expected) throw new InvalidInputError(countMismatch(field, expected, n));
  return out;
}

/**
 * Visits nested arrays in row-major order without recursion (no client-controlled depth reaches
 * the stack): `leaf` for every element that is not an array, `nested` with the depth of every
 * array met inside (the outer one is depth 1). Either stops the walk by returning false.
 */
export function walkNested(
  data: unknown[],
  leaf: (value: unknown) => boolean | undefined,
  nested: (depth: number) => boolean | undefined,
): void {
  // Each level: the array and the index of its next element.
  const arrays: unknown[][] = [data];
  const indices: number[] = [0];
  while (arrays.length > 0) {
    const depth = arrays.length - 1;
    const array = arrays[depth]!;
    const i = indices[depth]!;
    if (i >= array.length) {
      arrays.pop();
      indices.pop();
      continue;
    }
    indices[depth] = i + 1;
    const v = array[i];
    if (Array.isArray(v)) {
      if (nested(arrays.length + 1) === false) return;
      arrays.push(v);
      indices.push(0);
    } else if (leaf(v) === false) return;
  }
}

const nestedTooDeep = (field: string, maxDepth: number) =>
  `${field}: nested deeper than the shape (${maxDepth} dimensions); send it flat or nested as the shape`;
const countMismatch = (field: string, expected: number, n: number) =>
  `${field}: expected ${expected} values to match the shape, got ${n}`;

/**
 * What flattenTensorData checks last, for data already read into a Float32Array of finite FP32
 * values (the JSON fast path): nesting within `maxDepth` levels, then `expected` values. The same
 * messages in the same order: with every value a finite number, flattenTensorData can fail only on
 * depth (during its walk) or on the count (at its end).
 */
export function checkTensorData(
  values: Float32Array,
  depth: number,
  expected: number,
  field: string,
  maxDepth: number,
): Float32Array {
  if (depth > maxDepth) throw new InvalidInputError(nestedTooDeep(field, maxDepth));
  if (values.length !== expected) throw new InvalidInputError(countMismatch(field, expected, values.length));
  return values;
}

const typeName = (value: unknown) =>
  value === null ? 'null' : typeof value === 'string' ? `"${value.slice(0, 20)}"` : typeof value;
