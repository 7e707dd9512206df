import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { type WebSocket, WebSocketServer } from 'ws';
import { CloseCode, parseClientMessage, type ServerMessage, subprotocol } from '../../api/ws.ts';
import { maxPointsPerStroke } from '../../api/ws-constants.ts';
import { createLogger } from '../../log.ts';
import { ConnectionBudget } from '../http/connection-limit.ts';
import { jsonDepthError, moreValuesThan } from '../json-depth.ts';
import { tokenAccepted, upgradeToken } from './auth.ts';
import { wsMetrics } from './metrics.ts';
import { PendingFrameBudget } from './pending-frames.ts';
import { TokenBucket } from './rate-limit.ts';
import { Session, type SessionPredictor, type SessionPreprocess } from './session.ts';
import { WsSettings, type WsSettingsInput } from './settings.ts';

export interface WsPluginOptions {
  predictor: SessionPredictor;
  preprocess: SessionPreprocess;
  settings?: WsSettingsInput;
  /** Bearer tokens accepted on `/ws`; none or empty: no authentication. */
  authTokens?: readonly string[] | undefined;
  /** Path of the drawing-session endpoint. */
  path?: string;
  /** Prometheus registry for the `/ws` metrics (the runtime's own). */
  registry?: Registry | undefined;
  /**
   * The replica's connection budget shared with HTTP (the runtime passes its own); without one,
   * `/ws` gets a budget of its own of `settings.maxConnections`.
   */
  connectionBudget?: ConnectionBudget | undefined;
}

/** What the plugin exposes on the app (`app.kinferWs`): counts for metrics and tests. */
export interface WsStats {
  readonly sessions: number;
  /** Sessions whose socket is not being read (backpressure). */
  readonly paused: number;
  /** Bytes queued in the server for all clients (the memory slow readers cost). */
  readonly bufferedBytes: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    kinferWs: WsStats;
  }
}

interface Connection {
  ws: WebSocket;
  session: Session;
  bucket: TokenBucket;
  alive: boolean;
  /** Reading is paused (slow reader or too many answers in flight). */
  paused: boolean;
  /** Over the rate limit since the last accepted message: answered once, then silently dropped. */
  limited: boolean;
  openedAt: number;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * `/ws`: drawing sessions over the `ws` library, attached to fastify's own HTTP server with
 * `noServer`, so the plugin decides every close code itself: 1008 (auth), 1013 (max connections),
 * 1009 (maxPayload, by `ws`), 1001 (shutdown, after the answers in flight went out).
 * Backpressure: a connection whose send buffer exceeds `maxBufferedBytes`, or with
 * `maxInFlightPerSession` answers pending, stops being read until it drains (TCP pushes back on
 * the client), and its live predictions wait; so a slow reader costs a bounded amount of memory.
 */
/**
 * JSON values one message may hold, counted (as commas) before it is parsed: the largest message
 * of the protocol is a stroke of maxPointsPerStroke points, two values each, and the rest of any
 * message is a few dozen. Within wsMaxPayloadBytes a message of a million small values would
 * otherwise hold the event loop in JSON.parse for ~0.1 s before the protocol's bounds refused it.
 */
const MAX_MESSAGE_VALUES = 2 * maxPointsPerStroke + 1024;
const tooManyValues = `message: more than ${MAX_MESSAGE_VALUES} JSON values (a stroke holds at most ${maxPointsPerStroke} points), refused before parsing`;

export async function wsPlugin(app: FastifyInstance, options: WsPluginOptions): Promise<void> {
  const settings = WsSettings.parse(options.settings ?? {});
  const path = options.path ?? '/ws';
  const log = createLogger('runtime.ws');
  const authTokens = options.authTokens?.filter(Boolean) ?? [];
  const connections = new Set<Connection>();
  const budget = options.connectionBudget ?? new ConnectionBudget(settings.maxConnections);
  /** Connections to look at again soon: paused, or holding a live prediction back. */
  const backedUp = new Set<Connection>();
  let shuttingDown = false;
  const metrics = wsMetrics(options.registry, () => connections.size);
  const pendingFrames = new PendingFrameBudget<Connection>(settings.maxPendingBytes);

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: settings.maxPayloadBytes,
    // UTF-8 is checked here, so that invalid text gets an `error` answer instead of a 1007 close.
    skipUTF8Validation: true,
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols: (protocols) => (protocols.has(subprotocol) ? subprotocol : false),
  });

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname !== path) {
      // Another plugin may serve this path; answer only when nobody else listens.
      if (app.server.listenerCount('upgrade') === 1) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      }
      return;
    }
    socket.on('error', () => socket.destroy());
    wss.handleUpgrade(request, socket, head, (ws) => accept(ws, request, url));
  };

  const accept = (ws: WebSocket, request: IncomingMessage, url: URL): void => {
    const remote = request.socket.remoteAddress;
    const refuse = (code: number, reason: string, event: string): void => {
      log.info({ event, remote, code }, reason);
      metrics.closed(code);
      ws.on('error', () => {});
      ws.close(code, reason);
      // A peer that never answers the close handshake is cut off.
      setTimeout(() => ws.terminate(), 2000).unref();
    };
    const refusal = shuttingDown
      ? ([CloseCode.goingAway, 'server shutting down', 'ws.refused_shutdown'] as const)
      : authTokens.length > 0 && !tokenAccepted(upgradeToken(request, url), authTokens)
        ? ([CloseCode.policy, 'missing or invalid bearer token', 'ws.refused_auth'] as const)
        : !budget.admit(request.socket)
          ? ([CloseCode.overloaded, 'too many sessions, retry later', 'ws.refused_overloaded'] as const)
          : undefined;
    if (refusal) {
      refuse(refusal[0], refusal[1], refusal[2]);
      return;
    }

    const send = (message: ServerMessage): void => {
      if (message.type === 'error') metrics.error(message.code);
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
    };
    const connection: Connection = {
      ws,
      alive: true,
      paused: false,
      limited: false,
      openedAt: performance.now(),
      bucket: new TokenBucket(settings.messagesPerSecond, settings.messageBurst),
      session: new Session(randomUUID(), options.predictor, options.preprocess, settings, {
        send,
        canSendLive: () => {
          if (ws.bufferedAmount < settings.maxBufferedBytes / 2) return true;
          watch(connection);
          return false;
        },
        settled: () => relieve(connection),
        logError: (error, context) =>
          log.error({ event: 'ws.session_error', sessionId: connection.session.id, err: error }, context),
      }),
    };
    connections.add(connection);

    // Unfinished frames against the replica's budget: bytes count until a message completes.
    const socket = request.socket;
    const onData = (chunk: Buffer) => {
      if (ws.readyState !== ws.OPEN) return; // closing: what still arrives is read to the close frame
      const over = pendingFrames.received(connection, chunk.length);
      if (!over) return;
      pendingFrames.remove(over);
      log.info(
        { event: 'ws.pending_frames_over_budget', sessionId: over.session.id },
        'closing the largest sender',
      );
      over.ws.close(CloseCode.overloaded, 'too many unfinished frames on this server, retry later');
      setTimeout(() => over.ws.terminate(), 1000).unref();
    };
    socket.on('data', onData);
    const settled = () => {
      if (connections.has(connection)) pendingFrames.settled(connection);
    };
    ws.on('ping', settled);
    log.debug({ event: 'ws.connected', sessionId: connection.session.id, remote });

    ws.on('pong', () => {
      connection.alive = true;
      settled();
    });
    ws.on('message', (data, isBinary) => {
      connection.alive = true;
      settled();
      // Once the server closes, what arrives is read only to reach the peer's close frame.
      if (ws.readyState !== ws.OPEN) return;
      receive(connection, data as Buffer, isBinary, send);
      throttle(connection);
    });
    // A malformed frame is the client's mistake (ws closes with 1002/1009): one short debug line,
    // no stack trace, so a hostile client cannot fill the log.
    ws.on('error', (error) => {
      log.debug(
        {
          event: 'ws.protocol_error',
          sessionId: connection.session.id,
          code: (error as { code?: string }).code,
          reason: error.message,
        },
        'malformed WebSocket frame',
      );
    });
    ws.on('close', (code) => {
      metrics.closed(code);
      socket.off('data', onData);
      pendingFrames.remove(connection);
      connection.session.close();
      connections.delete(connection);
      backedUp.delete(connection);
      log.debug({
        event: 'ws.closed',
        sessionId: connection.session.id,
        code,
        elapsedMs: Math.round(performance.now() - connection.openedAt),
      });
    });

    send({
      type: 'welcome',
      sessionId: connection.session.id,
      model: { name: options.predictor.model.name, sha256: options.predictor.model.sha256 },
      canvas: { width: settings.canvasWidth, height: settings.canvasHeight },
    });
  };

  const receive = (
    connection: Connection,
    data: Buffer,
    isBinary: boolean,
    send: (message: ServerMessage) => void,
  ): void => {
    if (!connection.bucket.take()) {
      if (!connection.limited) {
        connection.limited = true;
        send({
          type: 'error',
          code: 'rate_limited',
          message: `message: more than ${settings.messagesPerSecond} messages per second; dropped until the rate falls`,
        });
      }
      return;
    }
    connection.limited = false;
    if (isBinary) {
      metrics.message('invalid');
      send({
        type: 'error',
        code: 'invalid_message',
        message: 'frame: binary frames are not accepted; send JSON text',
      });
      return;
    }
    let text: string;
    try {
      text = decoder.decode(data);
    } catch {
      metrics.message('invalid');
      send({ type: 'error', code: 'invalid_message', message: 'frame: not valid UTF-8' });
      return;
    }
    const tooDeep = jsonDepthError(text, settings.maxJsonDepth, 'message');
    if (tooDeep) {
      metrics.message('invalid');
      send({ type: 'error', code: 'invalid_message', message: tooDeep });
      return;
    }
    if (moreValuesThan(text, MAX_MESSAGE_VALUES)) {
      metrics.message('invalid');
      send({ type: 'error', code: 'invalid_message', message: tooManyValues });
      return;
    }
    const parsed = parseClientMessage(text);
    metrics.message(parsed.ok ? parsed.message.type : 'invalid');
    if (!parsed.ok) {
      send({
        type: 'error',
        ...(parsed.id === undefined ? {} : { id: parsed.id }),
        code: 'invalid_message',
        message: parsed.message,
      });
      return;
    }
    connection.session.handle(parsed.message);
  };

  /** Stops reading a connection that is not reading its answers or has too many pending. */
  const throttle = (connection: Connection): void => {
    if (connection.paused || connection.ws.readyState !== connection.ws.OPEN) return;
    if (
      connection.ws.bufferedAmount >= settings.maxBufferedBytes ||
      connection.session.inFlight >= settings.maxInFlightPerSession
    ) {
      connection.paused = true;
      connection.ws.pause();
      watch(connection);
    }
  };

  /** Resumes reading (and live predictions) once the send buffer drained and answers came back. */
  const relieve = (connection: Connection): boolean => {
    if (connection.ws.readyState !== connection.ws.OPEN || shuttingDown) return true;
    if (connection.ws.bufferedAmount >= settings.maxBufferedBytes / 2) return false;
    if (connection.paused) {
      if (connection.session.inFlight >= settings.maxInFlightPerSession) return false;
      connection.paused = false;
      connection.ws.resume();
    }
    connection.session.drained();
    return true;
  };

  // `ws` has no public drain event, so backed-up connections are polled; the timer runs only while
  // some connection is backed up.
  let drainTimer: ReturnType<typeof setInterval> | undefined;
  const watch = (connection: Connection): void => {
    backedUp.add(connection);
    drainTimer ??= setInterval(() => {
      for (const candidate of backedUp) if (relieve(candidate)) backedUp.delete(candidate);
      if (backedUp.size === 0) {
        clearInterval(drainTimer);
        drainTimer = undefined;
      }
    }, 20);
  };

  // Heartbeat: a peer that did not answer the previous ping (nor sent anything) is dropped.
  const heartbeat = setInterval(() => {
    for (const connection of connections) {
      if (!connection.alive) {
        log.info(
          { event: 'ws.dead_peer', sessionId: connection.session.id },
          'no pong: dropping the session',
        );
        connection.ws.terminate();
        continue;
      }
      connection.alive = false;
      connection.ws.ping();
    }
  }, settings.heartbeatIntervalMs);
  heartbeat.unref();

  app.server.on('upgrade', onUpgrade);

  app.decorate('kinferWs', {
    get sessions() {
      return connections.size;
    },
    get paused() {
      let count = 0;
      for (const connection of connections) if (connection.paused) count++;
      return count;
    },
    get bufferedBytes() {
      let bytes = 0;
      for (const connection of connections) bytes += connection.ws.bufferedAmount;
      return bytes;
    },
  } satisfies WsStats);

  // A plain GET on the endpoint explains itself instead of a bare 404.
  const upgradeRequired = {
    description: 'a WebSocket endpoint: connect with an Upgrade request (subprotocol "kinfer")',
    type: 'object',
    required: ['error'],
    properties: { error: { type: 'string' } },
  };
  const schema = {
    tags: ['Drawing sessions'],
    summary: 'WebSocket drawing sessions',
    response: { 426: upgradeRequired },
  };
  app.get(path, { schema }, async (_request, reply) =>
    reply
      .code(426)
      .header('upgrade', 'websocket')
      .send({ error: `${path} is a WebSocket endpoint` }),
  );

  // Shutdown runs before the HTTP server stops: no new sessions, answers in flight go out, then 1001.
  app.addHook('preClose', async () => {
    shuttingDown = true;
    const started = performance.now();
    const open = [...connections];
    // No new requests: what was read is answered, what was not is left to the client's reconnect.
    for (const connection of open) {
      connection.paused = true;
      connection.ws.pause();
    }
    await withTimeout(
      Promise.all(open.map((connection) => connection.session.idle())),
      settings.shutdownGraceMs,
    );
    await withTimeout(
      Promise.all(
        open.map(
          (connection) =>
            new Promise<void>((resolve) => {
              if (connection.ws.readyState === connection.ws.CLOSED) return resolve();
              connection.ws.once('close', () => resolve());
              connection.ws.close(CloseCode.goingAway, 'server shutting down');
              // Read again (requests are ignored now), or the peer's close frame is never seen.
              connection.ws.resume();
            }),
        ),
      ),
      1000,
    );
    for (const connection of connections) connection.ws.terminate();
    clearInterval(heartbeat);
    if (drainTimer) clearInterval(drainTimer);
    app.server.off('upgrade', onUpgrade);
    log.info(
      { event: 'ws.shutdown', sessions: open.length, elapsedMs: Math.round(performance.now() - started) },
      'closed every session with 1001',
    );
  });
}

// Like fastify-plugin: the decorator is visible on the app that registers the plugin.
(wsPlugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;

async function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
