import { z } from 'zod';
import { intSetting, limitsConfigShape } from './runtime-limits.ts';

/**
 * Settings of the drawing-session WebSocket `/ws`, part of the runtime configuration (key `ws`).
 * Defaults suit one replica on 2 cores; tests shorten the heartbeat. Defined in src/api, like the
 * runtime's other limits (runtime-limits.ts), so that the ModelDeployment's `spec.server.limits`
 * and `.timeouts` derive the `/ws` limits from them; the plugin reads them from
 * src/runtime/ws/settings.ts.
 */
export const WsSettings = z.object({
  /** Largest accepted frame in bytes; a bigger one closes the connection with 1009. */
  maxPayloadBytes: intSetting(1024, 64 * 1024 * 1024).default(1024 * 1024),
  /**
   * Open sessions at most; the next one is closed with 1013 (the ModelDeployment's default too).
   * In the runtime this is the replica's one budget for HTTP and WebSocket connections together
   * (src/runtime/http/connection-limit.ts); alone, the plugin applies it to its sessions.
   */
  maxConnections: intSetting(1, 1_000_000).default(1000),
  /** Sustained client messages per second per connection; more are answered `rate_limited`. */
  messagesPerSecond: z.coerce.number().min(1).max(1_000_000).default(200),
  /** Burst of client messages allowed above the sustained rate. */
  messageBurst: intSetting(1, 1_000_000).default(400),
  /** Ping interval; a peer that has not answered the previous ping is dropped. */
  heartbeatIntervalMs: intSetting(10, 600_000).default(30_000),
  /** Minimum time between two live predictions of one session while it draws. */
  liveIntervalMs: intSetting(0, 60_000).default(50),
  /** Canvas size announced in `welcome`; stroke coordinates are in this space. */
  canvasWidth: intSetting(28, 4096).default(280),
  canvasHeight: intSetting(28, 4096).default(280),
  /**
   * Points a canvas may hold before `stroke` answers `canvas_full` (a digit drawn for 10 s at 60 Hz
   * is ~600): bounds a session's memory (~50 bytes a point) and the cost of rendering its canvas.
   */
  maxPointsPerSession: intSetting(1, 1_000_000).default(4096),
  /** Answers awaiting the model per session; beyond this the server stops reading the socket. */
  maxInFlightPerSession: intSetting(1, 10_000).default(16),
  /**
   * Bytes queued for a slow reader above which the server stops reading its messages and skips
   * live predictions, so a client that does not read cannot grow the server's memory.
   */
  maxBufferedBytes: intSetting(1024, 256 * 1024 * 1024).default(256 * 1024),
  /**
   * Bytes of WebSocket messages begun and not finished, across every connection of the replica;
   * over it, the connection holding the most is closed with 1013 (src/runtime/ws/pending-frames.ts).
   */
  maxPendingBytes: intSetting(64 * 1024, 16 * 1024 * 1024 * 1024).default(64 * 1024 * 1024),
  /** Arrays and objects nested in one message at most, refused before parsing (runtime `maxJsonDepth`). */
  maxJsonDepth: limitsConfigShape.maxJsonDepth,
  /** On shutdown, how long in-flight answers may take before every client gets 1001 anyway. */
  shutdownGraceMs: intSetting(0, 120_000).default(5000),
});
export type WsSettings = z.infer<typeof WsSettings>;
export type WsSettingsInput = z.input<typeof WsSettings>;

/**
 * The `/ws` settings as flat runtime configuration keys (flag `--ws-heartbeat-interval-ms`, env
 * `KINFER_WS_HEARTBEAT_INTERVAL_MS`, YAML `wsHeartbeatIntervalMs`), spread into the runtime schema.
 * `maxConnections` keeps the ModelDeployment's spelling (`spec.server.maxConnections`).
 */
const defaults = WsSettings.parse({});
const described = <K extends keyof WsSettings>(key: K, description: string) =>
  WsSettings.shape[key].describe(`${description} (default ${defaults[key]})`);

/** The `/ws` bounds on what a client may send or hold (exposed in `spec.server.limits`). */
export const wsLimitsConfigShape = {
  wsMaxPayloadBytes: described('maxPayloadBytes', 'largest WebSocket frame; bigger closes with 1009'),
  wsMessagesPerSecond: described('messagesPerSecond', 'sustained client messages per second per session'),
  wsMessageBurst: described('messageBurst', 'burst of client messages above the sustained rate'),
  wsMaxBufferedBytes: described('maxBufferedBytes', 'send buffer above which a slow reader is paused'),
  wsMaxPointsPerSession: described(
    'maxPointsPerSession',
    "points a drawing session's canvas holds at most; more is answered canvas_full",
  ),
  wsMaxPendingBytes: described(
    'maxPendingBytes',
    'unfinished WebSocket frames held across the replica; over it the largest sender is closed with 1013',
  ),
};

/** The `/ws` time limit on a silent client (exposed in `spec.server.timeouts`). */
export const wsTimeoutsConfigShape = {
  wsHeartbeatIntervalMs: described(
    'heartbeatIntervalMs',
    'WebSocket ping interval; silent peers are dropped',
  ),
};

export const wsConfigShape = {
  maxConnections: described(
    'maxConnections',
    'HTTP and WebSocket connections at most, one budget; over it HTTP answers 503, /ws closes with 1013; probes and /metrics exempt',
  ),
  ...wsLimitsConfigShape,
  ...wsTimeoutsConfigShape,
  wsLiveIntervalMs: described('liveIntervalMs', 'minimum time between live predictions while drawing'),
  wsShutdownGraceMs: described('shutdownGraceMs', 'time for in-flight WebSocket answers on shutdown'),
};
