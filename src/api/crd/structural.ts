// Turns zod's JSON Schema (OpenAPI 3.0 flavour) into a Kubernetes structural schema: every node typed,
// no $ref / oneOf / allOf / not, anyOf only in the int-or-string form the apiserver accepts, no
// `additionalProperties: false` (the apiserver prunes and, with strict field validation, rejects
// unknown fields itself), no JavaScript-only bounds.

export type JsonSchema = { [key: string]: unknown };

/** Thrown when a schema cannot become structural; the message names the path inside the schema. */
export class NonStructuralSchemaError extends Error {
  readonly code = 'non_structural_schema';
}

const forbidden = ['$ref', 'oneOf', 'allOf', 'not', 'anyOf', 'if', 'then', 'else', 'patternProperties'];
const dropped = new Set(['$schema', 'id', '$id', 'title', 'examples', '$defs', 'definitions']);

/** Key order of the emitted YAML: what a reader looks for first comes first. */
const keyOrder = [
  'description',
  'type',
  'format',
  'enum',
  'default',
  'minimum',
  'exclusiveMinimum',
  'maximum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'anyOf',
  'items',
  'properties',
  'additionalProperties',
  'required',
];
const rank = (key: string): number => {
  const index = keyOrder.indexOf(key);
  return index === -1 ? keyOrder.length : index;
};

const isObject = (value: unknown): value is JsonSchema =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function toStructural(schema: JsonSchema, path = ''): JsonSchema {
  if (schema['x-kubernetes-int-or-string'] === true) return intOrString(schema, path);
  for (const key of forbidden) {
    if (key in schema)
      throw new NonStructuralSchemaError(
        `${path || '<root>'}: "${key}" is not allowed in a structural schema`,
      );
  }
  if (typeof schema.type !== 'string' && schema['x-kubernetes-preserve-unknown-fields'] !== true) {
    throw new NonStructuralSchemaError(`${path || '<root>'}: every node needs a type`);
  }
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (dropped.has(key)) continue;
    if (key === 'properties' && isObject(value)) {
      out.properties = Object.fromEntries(
        Object.entries(value).map(([name, child]) => [
          name,
          toStructural(child as JsonSchema, `${path}.${name}`),
        ]),
      );
    } else if (key === 'items' && isObject(value)) {
      out.items = toStructural(value, `${path}[]`);
    } else if (key === 'additionalProperties') {
      if (isObject(value) && Object.keys(value).length > 0)
        out.additionalProperties = toStructural(value, `${path}.*`);
      // `false` and `{}`: dropped; unknown fields are pruned and (with strict field validation) rejected.
    } else if (
      (key === 'minimum' || key === 'maximum') &&
      Math.abs(value as number) === Number.MAX_SAFE_INTEGER
    ) {
      // zod's integer bounds, not ours.
    } else if (key === 'pattern' && schema.format === 'date-time') {
      // the apiserver checks date-time itself; zod's long regex would only repeat it.
    } else if (key === 'pattern' && typeof value === 'string') {
      // RegExp.source escapes "/", which RE2 does not need.
      out.pattern = value.replaceAll('\\/', '/');
    } else if (key === 'required' && Array.isArray(value) && value.length === 0) {
      // an empty required list says nothing.
    } else {
      out[key] = value;
    }
  }
  return sortKeys(out);
}

/** Quantities and the like: exactly the shape core/v1 uses, which the apiserver accepts. */
function intOrString(schema: JsonSchema, path: string): JsonSchema {
  const branches = Array.isArray(schema.anyOf) ? (schema.anyOf as JsonSchema[]) : [];
  const types = branches.map((branch) => branch.type).sort();
  if (types.join() !== 'integer,string') {
    throw new NonStructuralSchemaError(`${path}: x-kubernetes-int-or-string needs an integer | string union`);
  }
  const pattern = branches.find((branch) => branch.type === 'string')?.pattern;
  return sortKeys({
    ...(typeof schema.description === 'string' ? { description: schema.description } : {}),
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    ...(typeof pattern === 'string' ? { pattern } : {}),
    'x-kubernetes-int-or-string': true,
  });
}

function sortKeys(schema: JsonSchema): JsonSchema {
  return Object.fromEntries(
    Object.entries(schema).sort(
      ([a], [b]) => rank(a) - rank(b) || (rank(a) === keyOrder.length ? a.localeCompare(b) : 0),
    ),
  );
}
