import { z } from 'zod';
import { compareQuantities } from './quantity.ts';

/** The API group and version both custom resources live in. */
export const group = 'kinfer.dev';
export const version = 'v1alpha1';
export const apiVersion = `${group}/${version}` as const;
/** `kubectl get kinfer` lists every kinfer resource. */
export const category = 'kinfer';

/** Names and shapes a client needs to address one kind (CustomObjectsApi, kubectl, CRD metadata). */
export interface ResourceDescriptor<K extends string = string> {
  readonly group: typeof group;
  readonly version: typeof version;
  readonly apiVersion: typeof apiVersion;
  readonly kind: K;
  readonly listKind: `${K}List`;
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
}

/** Condition types used by both kinds (status.conditions[].type). */
export const ConditionType = {
  Ready: 'Ready',
  Progressing: 'Progressing',
  Degraded: 'Degraded',
  Succeeded: 'Succeeded',
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

export const ConditionStatus = { True: 'True', False: 'False', Unknown: 'Unknown' } as const;
export type ConditionStatus = (typeof ConditionStatus)[keyof typeof ConditionStatus];

/**
 * A CEL rule for the CRD (`x-kubernetes-validations`), with the same check in TypeScript so an object
 * validated by zod (operator, tests, CLI) fails exactly where the apiserver would reject it.
 * Transition rules (using `oldSelf`) have no `check`: only the apiserver sees the old object.
 */
export interface CelRule<T> {
  rule: string;
  message: string;
  /** Path (relative to the schema the rule sits on) of the field the error names, e.g. `.limit`. */
  fieldPath?: string;
  check?: (value: T) => boolean;
}

/** Attaches CEL rules to a schema: a zod refinement per rule plus the CRD annotation. */
export function withRules<S extends z.ZodType>(schema: S, rules: CelRule<z.output<S>>[]): S {
  const refined = schema.superRefine((value, ctx) => {
    for (const { check, message, fieldPath } of rules) {
      if (check && !check(value as z.output<S>)) {
        ctx.addIssue({
          code: 'custom',
          message,
          path: fieldPath ? fieldPath.split('.').filter(Boolean) : [],
        });
      }
    }
  }) as unknown as S;
  return refined.meta({
    'x-kubernetes-validations': rules.map(({ rule, message, fieldPath }) => ({
      rule,
      message,
      ...(fieldPath ? { fieldPath } : {}),
    })),
  });
}

/** CEL for "exactly one of these optional fields is set", with its TypeScript twin. */
export function exactlyOne<T extends object>(keys: readonly (keyof T & string)[], what: string): CelRule<T> {
  const list = keys.length === 2 ? keys.join(' or ') : `${keys.slice(0, -1).join(', ')} or ${keys.at(-1)}`;
  return {
    rule: `[${keys.map((key) => `has(self.${key})`).join(', ')}].filter(x, x).size() == 1`,
    message: `exactly one ${what} must be set: ${list}`,
    check: (value) =>
      keys.filter((key) => (value as Record<string, unknown>)[key] !== undefined).length === 1,
  };
}

/**
 * Root rule: `metadata.name` becomes a Service name, so it must be a DNS-1035 label of at most
 * `maxLength` characters (less than 63 when a suffix is appended to it).
 */
export function nameIsServiceName(
  maxLength: number,
  service: string,
): CelRule<{ metadata: { name?: string | undefined } }> {
  const pattern = '^[a-z]([-a-z0-9]*[a-z0-9])?$';
  return {
    rule: `size(self.metadata.name) <= ${maxLength} && self.metadata.name.matches('${pattern}')`,
    message: `metadata.name must be a DNS-1035 label of at most ${maxLength} characters (lowercase letters, digits and "-", starting with a letter): it names ${service}`,
    check: ({ metadata: { name } }) =>
      name === undefined || (new RegExp(pattern).test(name) && name.length <= maxLength),
  };
}

/** `name` of an object in the same namespace. */
export const LocalObjectReferenceSchema = (what: string) =>
  z
    .object({
      name: z
        .string()
        .min(1)
        .max(253)
        .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/)
        .meta({ description: `Name of the ${what} in the same namespace.` }),
    })
    .meta({ description: `Reference to a ${what} in the same namespace.` });

/** A DNS-1035 label: the shape of names that become Service names and URL path segments. */
export const dnsLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/);

/** The regular expression Kubernetes itself uses for resource.Quantity. */
export const quantityPattern =
  /^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/;

/** A Kubernetes quantity ("500m", "1Gi", 2): integer or string, as core/v1 writes it. */
export const QuantitySchema = z
  .union([z.number().int(), z.string().regex(quantityPattern)])
  .meta({ 'x-kubernetes-int-or-string': true });

const resourceList = (what: string) =>
  z
    .record(z.string(), QuantitySchema)
    .meta({ description: `${what} per resource name (cpu, memory, ...), as in a container's resources.` });

/** A container's compute resources (core/v1 ResourceRequirements without claims). */
export const ResourceRequirementsSchema = z
  .object({
    requests: resourceList('Minimum resources the scheduler reserves').optional(),
    limits: resourceList('Maximum resources the container may use').optional(),
  })
  .meta({
    description:
      'Compute resources of a container (requests, limits); each resource that uses it describes its own defaults.',
  });

/** Resources whose request Kubernetes refuses above their limit (a pod or Job with one is never created). */
const boundedResources = ['cpu', 'memory', 'ephemeral-storage'] as const;

type Resources = z.output<typeof ResourceRequirementsSchema>;

/** requests.X <= limits.X for each bounded resource set in both (quantities compared by value). */
export const requestsWithinLimits: CelRule<Resources> = {
  rule: `!has(self.requests) || !has(self.limits) || [${boundedResources.map((r) => `'${r}'`).join(', ')}].all(k, !(k in self.requests) || !(k in self.limits) || !isQuantity(string(self.requests[k])) || !isQuantity(string(self.limits[k])) || quantity(string(self.requests[k])).compareTo(quantity(string(self.limits[k]))) <= 0)`,
  message: `a request cannot exceed its limit: ${boundedResources.map((r) => `requests.${r}`).join(', ')} must each be at most the limit of the same name`,
  fieldPath: '.requests',
  check: ({ requests, limits }) =>
    boundedResources.every((name) => {
      const request = requests?.[name];
      const limit = limits?.[name];
      return request === undefined || limit === undefined || (compareQuantities(request, limit) ?? 0) <= 0;
    }),
};

const iso = z.iso.datetime({ offset: true });

/** metav1.Condition, exactly as the Kubernetes API defines it. */
export const ConditionSchema = z
  .object({
    type: z
      .string()
      .max(316)
      .regex(
        /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/,
      )
      .meta({ description: 'Type of condition in CamelCase, e.g. Ready.' }),
    status: z
      .enum(['True', 'False', 'Unknown'])
      .meta({ description: 'Status of the condition: True, False or Unknown.' }),
    observedGeneration: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta({ description: 'metadata.generation the condition was computed from.' }),
    lastTransitionTime: iso.meta({
      description: 'Last time the condition changed from one status to another.',
    }),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
      .meta({ description: 'Machine-readable CamelCase reason for the last transition.' }),
    message: z.string().max(32768).meta({ description: 'Human-readable details about the transition.' }),
  })
  .meta({ description: 'A condition (metav1.Condition).' });
export type Condition = z.output<typeof ConditionSchema>;

export const ConditionsSchema = z
  .array(ConditionSchema)
  .max(16)
  .meta({
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
  });

export const TimestampSchema = iso;

/** The parts of ObjectMeta kinfer reads; everything else passes through untouched. */
export const ObjectMetaSchema = z.looseObject({
  name: z.string().optional(),
  generateName: z.string().optional(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().int().optional(),
  creationTimestamp: z.unknown().optional(),
  deletionTimestamp: z.unknown().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type ObjectMeta = z.output<typeof ObjectMetaSchema>;

/**
 * A kinfer custom resource as a whole: apiVersion and kind fixed, kinfer's view of metadata, the
 * kind's spec and status, and the rules on the whole object (e.g. what its name must be).
 */
export function customResourceSchema<K extends string, Spec extends z.ZodType, Status extends z.ZodType>(
  kind: K,
  spec: Spec,
  status: Status,
  rootRules: CelRule<{ metadata: ObjectMeta }>[],
) {
  return withRules(
    z.object({
      apiVersion: z.literal(apiVersion),
      kind: z.literal(kind),
      metadata: ObjectMetaSchema,
      spec,
      status: status.optional(),
    }),
    rootRules,
  );
}

/** A validation failure whose message names every offending field (`spec.batching.maxBatchSize: ...`). */
export class InvalidResourceError extends Error {
  readonly code = 'invalid_resource';
  constructor(
    readonly kind: string,
    readonly issues: readonly { path: string; message: string }[],
  ) {
    super(
      `invalid ${kind}: ${issues.map(({ path, message }) => (path ? `${path}: ${message}` : message)).join('; ')}`,
    );
    this.name = 'InvalidResourceError';
  }
}

/** Parses with a zod schema, throwing InvalidResourceError with dotted field paths. */
export function parseResource<S extends z.ZodType>(kind: string, schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new InvalidResourceError(
    kind,
    result.error.issues.map((issue) => ({
      path: issue.path
        .map((part) => (typeof part === 'number' ? `[${part}]` : String(part)))
        .join('.')
        .replace(/\.\[/g, '['),
      message: issue.message,
    })),
  );
}
