// The cluster DNS of the real-node cluster: CoreDNS as a Deployment in kube-system behind the
// kube-dns Service, with only the kubernetes plugin answering (no forward plugin: a name outside
// cluster.local is never looked up anywhere). `log` prints every query to the pod's log, so a test
// can see what pods resolved.

export const corednsNamespace = 'kube-system';

export function corefile(clusterDomain = 'cluster.local'): string {
  return [
    '.:53 {',
    '    errors',
    '    log',
    '    health :8080',
    '    ready :8181',
    `    kubernetes ${clusterDomain} in-addr.arpa ip6.arpa {`,
    '        pods insecure',
    '        ttl 5',
    '    }',
    '}',
    '',
  ].join('\n');
}

/** Every object CoreDNS needs, for server-side apply: [API path of the object, object]. */
export function corednsObjects(options: {
  image: string;
  dnsServiceIp: string;
  nodeSelector: Record<string, string>;
}): [string, object][] {
  const labels = { 'k8s-app': 'kube-dns' };
  const ns = corednsNamespace;
  return [
    [
      `/api/v1/namespaces/${ns}/serviceaccounts/coredns`,
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: ns } },
    ],
    [
      '/apis/rbac.authorization.k8s.io/v1/clusterroles/system:coredns',
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'system:coredns' },
        rules: [
          {
            apiGroups: [''],
            resources: ['endpoints', 'services', 'pods', 'namespaces'],
            verbs: ['list', 'watch'],
          },
          { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
        ],
      },
    ],
    [
      '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system:coredns',
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'system:coredns' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
        subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: ns }],
      },
    ],
    [
      `/api/v1/namespaces/${ns}/configmaps/coredns`,
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'coredns', namespace: ns },
        data: { Corefile: corefile() },
      },
    ],
    [
      `/apis/apps/v1/namespaces/${ns}/deployments/coredns`,
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'coredns', namespace: ns, labels },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: 'coredns',
              priorityClassName: 'system-cluster-critical',
              // Its own resolver is itself; the host's resolv.conf is not for pods here.
              dnsPolicy: 'Default',
              nodeSelector: options.nodeSelector,
              containers: [
                {
                  name: 'coredns',
                  image: options.image,
                  imagePullPolicy: 'Never',
                  args: ['-conf', '/etc/coredns/Corefile'],
                  ports: [
                    { name: 'dns', containerPort: 53, protocol: 'UDP' },
                    { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                  ],
                  resources: { requests: { cpu: '50m', memory: '32Mi' }, limits: { memory: '128Mi' } },
                  securityContext: {
                    runAsUser: 0,
                    allowPrivilegeEscalation: false,
                    readOnlyRootFilesystem: true,
                    capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
                  },
                  volumeMounts: [{ name: 'config', mountPath: '/etc/coredns', readOnly: true }],
                  livenessProbe: {
                    httpGet: { path: '/health', port: 8080 },
                    periodSeconds: 10,
                    failureThreshold: 5,
                  },
                  readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 2 },
                },
              ],
              volumes: [{ name: 'config', configMap: { name: 'coredns' } }],
            },
          },
        },
      },
    ],
    [
      `/api/v1/namespaces/${ns}/services/kube-dns`,
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'kube-dns', namespace: ns, labels },
        spec: {
          selector: labels,
          clusterIP: options.dnsServiceIp,
          ports: [
            { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
            { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
          ],
        },
      },
    ],
  ];
}
