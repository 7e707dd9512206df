/** A container's requests and limits, quantities as the Kubernetes API writes them. */
export type ContainerResources = { requests?: Record<string, string>; limits?: Record<string, string> };

/**
 * A predictor container's resources when its ModelDeployment omits spec.resources: the one place
 * they are spelled (the operator applies them, the CRD's description states them). No CPU limit.
 * The memory limit leaves room for hostile traffic and the largest inputs: under `npm run
 * bench:stall`'s full attack mix the runtime's resident memory peaks near 512 MiB (this default's
 * limit before), and decoding the largest PNGs the limits allow took it to 641-789 MiB (README,
 * "Under attack").
 */
export const DEFAULT_PREDICTOR_RESOURCES: Readonly<ContainerResources> = Object.freeze({
  requests: Object.freeze({ cpu: '250m', memory: '256Mi' }),
  limits: Object.freeze({ memory: '1Gi' }),
});

/**
 * An InferenceJob runner container's resources when its spec.runner.resources is omitted (the
 * operator applies them, the CRD's description states them). No CPU limit.
 */
export const DEFAULT_RUNNER_RESOURCES: Readonly<ContainerResources> = Object.freeze({
  requests: Object.freeze({ cpu: '100m', memory: '128Mi' }),
  limits: Object.freeze({ memory: '512Mi' }),
});

/** `requests cpu 250m, memory 256Mi; limits memory 1Gi`: resources in words, for descriptions. */
export function describeResources(resources: ContainerResources): string {
  const parts = (['requests', 'limits'] as const).flatMap((kind) => {
    const entries = Object.entries(resources[kind] ?? {});
    return entries.length ? [`${kind} ${entries.map(([name, value]) => `${name} ${value}`).join(', ')}`] : [];
  });
  return parts.length ? parts.join('; ') : 'none';
}
