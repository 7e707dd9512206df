import { describe, expect, it } from 'vitest';
import { resourceOf } from '../../../src/kube/client.ts';
import { Deployments, keyOf, Leases, Pods, resourcePath, splitKey } from '../../../src/kube/resources.ts';

describe('resource paths', () => {
  it.each([
    [
      resourcePath(Deployments, { namespace: 'ml', name: 'mnist' }),
      '/apis/apps/v1/namespaces/ml/deployments/mnist',
      'deployments',
    ],
    [resourcePath(Deployments, {}), '/apis/apps/v1/deployments', 'deployments'],
    [resourcePath(Pods, { namespace: 'ml' }), '/api/v1/namespaces/ml/pods', 'pods'],
    [
      resourcePath(Leases, { namespace: 'kube-system', name: 'x', subresource: 'status' }),
      '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/x/status',
      'leases/status',
    ],
    ['/api/v1/namespaces/ml', '/api/v1/namespaces/ml', 'namespaces'],
    ['/api/v1/namespaces', '/api/v1/namespaces', 'namespaces'],
  ])('%s', (path, expected, resource) => {
    expect(path).toBe(expected);
    expect(resourceOf(path)).toBe(resource);
  });

  it('splits and joins keys', () => {
    expect(keyOf({ namespace: 'ml', name: 'a' })).toBe('ml/a');
    expect(keyOf({ name: 'node-1' })).toBe('node-1');
    expect(splitKey('ml/a')).toEqual({ namespace: 'ml', name: 'a' });
    expect(splitKey('node-1')).toEqual({ namespace: '', name: 'node-1' });
  });
});
