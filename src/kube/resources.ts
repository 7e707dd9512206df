import { inferenceJobResource, modelDeploymentResource } from '../api/index.ts';

/** What a client needs to know about a kind to build its REST paths. */
export interface ResourceType {
  group: string; // '' for the core group
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

export const apiVersionOf = (type: ResourceType): string =>
  type.group ? `${type.group}/${type.version}` : type.version;

/** `/apis/apps/v1/namespaces/ns/deployments/name/status`; omit namespace for all namespaces. */
export function resourcePath(
  type: ResourceType,
  target: { namespace?: string | undefined; name?: string | undefined; subresource?: string } = {},
): string {
  const base = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
  const namespace =
    type.namespaced && target.namespace ? `/namespaces/${encodeURIComponent(target.namespace)}` : '';
  const name = target.name ? `/${encodeURIComponent(target.name)}` : '';
  const subresource = target.name && target.subresource ? `/${target.subresource}` : '';
  return `${base}${namespace}/${type.plural}${name}${subresource}`;
}

export const Deployments: ResourceType = {
  group: 'apps',
  version: 'v1',
  plural: 'deployments',
  kind: 'Deployment',
  namespaced: true,
};
export const Services: ResourceType = {
  group: '',
  version: 'v1',
  plural: 'services',
  kind: 'Service',
  namespaced: true,
};
export const ConfigMaps: ResourceType = {
  group: '',
  version: 'v1',
  plural: 'configmaps',
  kind: 'ConfigMap',
  namespaced: true,
};
export const Pods: ResourceType = { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true };
export const Events: ResourceType = {
  group: '',
  version: 'v1',
  plural: 'events',
  kind: 'Event',
  namespaced: true,
};
export const Leases: ResourceType = {
  group: 'coordination.k8s.io',
  version: 'v1',
  plural: 'leases',
  kind: 'Lease',
  namespaced: true,
};
export const Jobs: ResourceType = {
  group: 'batch',
  version: 'v1',
  plural: 'jobs',
  kind: 'Job',
  namespaced: true,
};

/** kinfer's own kinds, from the schemas in src/api (the one place that defines them). */
export const ModelDeployments: ResourceType = {
  group: modelDeploymentResource.group,
  version: modelDeploymentResource.version,
  plural: modelDeploymentResource.plural,
  kind: modelDeploymentResource.kind,
  namespaced: true,
};
export const InferenceJobs: ResourceType = {
  group: inferenceJobResource.group,
  version: inferenceJobResource.version,
  plural: inferenceJobResource.plural,
  kind: inferenceJobResource.kind,
  namespaced: true,
};

/** The minimal shape every object has; reconcilers narrow it with their own types. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  [field: string]: unknown;
}

/** `namespace/name` (or `name` for cluster-scoped objects), the work queue's key. */
export const keyOf = (meta: { namespace?: string | undefined; name?: string | undefined }): string =>
  meta.namespace ? `${meta.namespace}/${meta.name ?? ''}` : (meta.name ?? '');

export function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return slash < 0
    ? { namespace: '', name: key }
    : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** The controller owner reference pointing at `owner`, as set on every child the operator creates. */
export function controllerReference(owner: KubeObject): OwnerReference {
  return {
    apiVersion: owner.apiVersion ?? '',
    kind: owner.kind ?? '',
    name: owner.metadata.name ?? '',
    uid: owner.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Metadata of a child the operator creates: in its owner's namespace, controlled by the owner. */
export function childMetadata(owner: KubeObject, name: string, labels: Record<string, string>) {
  return { name, namespace: owner.metadata.namespace, labels, ownerReferences: [controllerReference(owner)] };
}

export const controllerOf = (meta: ObjectMeta): OwnerReference | undefined =>
  meta.ownerReferences?.find((ref) => ref.controller);
