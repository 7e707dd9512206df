import { z } from 'zod';
import { InvalidInputError } from '../errors.ts';

/** `['inputs', 0, 'shape']` → `inputs[0].shape`. */
export function fieldPath(path: readonly PropertyKey[], prefix = ''): string {
  let out = prefix;
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out ? `.${String(key)}` : String(key);
  return out;
}

/** Parses with zod; on failure throws InvalidInputError naming the first bad field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, prefix = ''): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = fieldPath(issue.path, prefix);
  throw new InvalidInputError(`${field || 'body'}: ${issue.message}`);
}

/** JSON Schema of a zod schema for the OpenAPI document (validation stays with zod). */
export function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io: 'input',
    unrepresentable: 'any',
    reused: 'inline',
  }) as Record<string, unknown>;
  return rest;
}
