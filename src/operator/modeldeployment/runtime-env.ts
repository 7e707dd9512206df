import type { V1EnvVar } from '@kubernetes/client-node';
import type { ServerSettings } from '../../api/modeldeployment.ts';
import { serverSettings } from '../../api/server-limits.ts';
import { envName } from '../../shared/options.ts';

/**
 * `spec.server.limits` and `spec.server.timeouts` as the predictor's environment: only the
 * settings given, each as the runtime's own variable (`maxStrokes` → `KINFER_MAX_STROKES`), in the
 * settings' order so that the pod template is the same on every reconcile. An omitted setting is
 * left to the runtime's default.
 */
export function runtimeSettingsEnv(server: Pick<ServerSettings, 'limits' | 'timeouts'>): V1EnvVar[] {
  const given = (keys: string[], values: Record<string, number | undefined> | undefined) =>
    keys.flatMap((key) => {
      const value = values?.[key];
      return value === undefined ? [] : [{ name: envName(key), value: String(value) }];
    });
  return [
    ...given(Object.keys(serverSettings.limits), server.limits),
    ...given(Object.keys(serverSettings.timeouts), server.timeouts),
  ];
}
