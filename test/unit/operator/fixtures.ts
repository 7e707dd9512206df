import { ModelDeploymentSpecSchema } from '../../../src/api/modeldeployment.ts';
import type { ParsedModelDeployment } from '../../../src/operator/modeldeployment/desired.ts';

/** A ModelDeployment as the reconciler sees it: `ml/NAME`, generation 3, spec parsed with defaults. */
export function md(spec: Record<string, unknown>, name = 'mnist', status?: unknown): ParsedModelDeployment {
  return {
    apiVersion: 'kinfer.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name, namespace: 'ml', uid: 'uid-1', generation: 3 },
    spec: ModelDeploymentSpecSchema.parse(spec),
    ...(status ? { status } : {}),
  };
}
