import { InvalidInputError } from '../errors.ts';

/**
 * V2 `data`, flat or nested (any nesting, row-major), into a Float32Array of exactly `expected`
 * finite numbers. Hand-written rather than zod: a 1,024-image request carries 800k numbers.
 */
export function flattenTensorData(data: unknown, expected: number, field: string): Float32Array {
  const out = new Float32Array(expected);
  let n = 0;
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const v = value[i];
        if (typeof v === 'number') {
          if (!Number.isFinite(v))
            throw new InvalidInputError(`${field}[${n}]: expected a finite FP32 number, got ${v}`);
          if (n < expected) out[n] = v;
          n++;
        } else walk(v);
      }
    } else {
      throw new InvalidInputError(
        `${field}[${n}]: expected a number or a nested array, got ${typeName(value)}`,
      );
    }
  };
  walk(data);
  if (n !== expected)
    throw new InvalidInputError(`${field}: expected ${expected} values to match the shape, got ${n}`);
  return out;
}

const typeName = (value: unknown) =>
  value === null ? 'null' : typeof value === 'string' ? `"${value.slice(0, 20)}"` : typeof value;
