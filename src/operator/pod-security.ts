import type { V1PodSecurityContext, V1SecurityContext } from '@kubernetes/client-node';

/**
 * The restricted Pod Security Standard for every pod the operator creates (predictors and job
 * runners): non-root as the image's uid/gid 1000, RuntimeDefault seccomp.
 */
export const restrictedPod: V1PodSecurityContext = {
  runAsNonRoot: true,
  runAsUser: 1000,
  runAsGroup: 1000,
  seccompProfile: { type: 'RuntimeDefault' },
};

/** The same standard per container: no privilege escalation, no capabilities, read-only root. */
export const restrictedContainer: V1SecurityContext = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  seccompProfile: { type: 'RuntimeDefault' },
};
