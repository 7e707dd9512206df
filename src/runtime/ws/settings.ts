import type { z } from 'zod';
import type { WsSettingsInput, wsConfigShape } from '../../api/ws-settings.ts';

/**
 * The `/ws` settings (defined in src/api/ws-settings.ts, shared with the ModelDeployment's
 * `spec.server.limits` and `.timeouts`), as the plugin and the runtime configuration read them.
 */
export { WsSettings, type WsSettingsInput, wsConfigShape } from '../../api/ws-settings.ts';

type WsConfig = { [K in keyof typeof wsConfigShape]: z.infer<(typeof wsConfigShape)[K]> };

/** The plugin's settings from the runtime configuration. */
export function wsSettingsFromConfig(config: WsConfig & { maxJsonDepth: number }): WsSettingsInput {
  return {
    maxJsonDepth: config.maxJsonDepth,
    maxConnections: config.maxConnections,
    maxPayloadBytes: config.wsMaxPayloadBytes,
    messagesPerSecond: config.wsMessagesPerSecond,
    messageBurst: config.wsMessageBurst,
    heartbeatIntervalMs: config.wsHeartbeatIntervalMs,
    liveIntervalMs: config.wsLiveIntervalMs,
    maxBufferedBytes: config.wsMaxBufferedBytes,
    maxPointsPerSession: config.wsMaxPointsPerSession,
    shutdownGraceMs: config.wsShutdownGraceMs,
    maxPendingBytes: config.wsMaxPendingBytes,
  };
}
