/**
 * The ModelDeployment the operator benchmarks create (the builtin mnist-cnn, one replica), and the
 * children the operator makes for it, built by the operator's own pure functions, without the
 * owner reference: created directly by a baseline, nothing owns them (with a made-up owner the
 * garbage collector would delete them).
 */
import type { V1Deployment, V1Service } from '@kubernetes/client-node';
import { ModelDeploymentSpecSchema } from '../../src/api/modeldeployment.ts';
import {
  defaultPredictorConfig,
  desiredDeployment,
  desiredService,
  type ParsedModelDeployment,
} from '../../src/operator/modeldeployment/desired.ts';

export const benchSpec = ModelDeploymentSpecSchema.parse({
  model: { name: 'mnist-cnn', source: { builtin: 'mnist-cnn' } },
  replicas: 1,
});

/** The ModelDeployment `name` as the operator sees it after parsing (uid made up). */
export const benchModelDeployment = (name: string, namespace: string): ParsedModelDeployment => ({
  apiVersion: 'kinfer.dev/v1alpha1',
  kind: 'ModelDeployment',
  metadata: { name, namespace, uid: 'bench' },
  spec: benchSpec,
});

/** The Deployment and Service the operator makes for ModelDeployment `name`, owned by nothing. */
export function benchChildren(
  name: string,
  namespace: string,
): { deployment: V1Deployment; service: V1Service } {
  const md = benchModelDeployment(name, namespace);
  const deployment = desiredDeployment(md, { ...defaultPredictorConfig, image: 'kinfer:bench' });
  const service = desiredService(md);
  delete deployment.metadata?.ownerReferences;
  delete service.metadata?.ownerReferences;
  return { deployment, service };
}
