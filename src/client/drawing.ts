import type { ErrorMessage, Point, PredictionMessage, ServerMessage, WelcomeMessage } from '../api/ws.ts';
import { bearerSubprotocolPrefix, CloseCode, maxPointsPerStroke, subprotocol } from '../api/ws-constants.ts';
import { type BackoffOptions, backoffDelay, defaultBackoff } from '../shared/backoff.ts';
import { Emitter } from './emitter.ts';
import { ConnectionClosedError, RequestTimeoutError, ServerError } from './errors.ts';

/** The part of the WebSocket API shared by browsers and the `ws` package. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface DrawingClientOptions {
  /** `ws://host:port/ws` (an `http(s)://` base URL is turned into its `/ws`). */
  url: string;
  /** Bearer token, sent as a subprotocol so that browsers can authenticate too. */
  token?: string | undefined;
  /** The WebSocket implementation: the global one by default (browsers, Node 22+); `ws` where there is none. */
  WebSocket?: WebSocketConstructor;
  /** Time to wait for the answer to submit/predict/clear/ping. */
  requestTimeoutMs?: number;
  /** Reconnect with exponential backoff and jitter after an unexpected close; `false` to never. */
  reconnect?: false | Partial<BackoffOptions>;
  /** After a reconnect, draw the strokes since the last clear again on the new session. */
  replayStrokes?: boolean;
}

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface DrawingClientEvents extends Record<string, unknown> {
  /** Every (re)connection, with the server's welcome. */
  open: WelcomeMessage;
  /** Live predictions while drawing (`live: true`) and any prediction nobody waits for. */
  prediction: PredictionMessage;
  /** Server errors nobody waits for (e.g. `rate_limited`, `canvas_full` of a stroke). */
  serverError: ErrorMessage;
  close: { code: number; reason: string; willReconnect: boolean };
  reconnecting: { attempt: number; delayMs: number };
  state: ConnectionState;
}

interface Pending {
  resolve(message: ServerMessage): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

const serverTypes = new Set<string>(['welcome', 'prediction', 'cleared', 'pong', 'error']);

/** Close codes after which reconnecting cannot help. */
const fatalCloseCodes = new Set<number>([CloseCode.policy]);

/**
 * A drawing session over `/ws`: requests correlated with their answers by `id` (with timeouts),
 * live predictions as events, and automatic reconnection (the strokes since the last clear are
 * replayed on the new session, so the drawing survives a server restart).
 */
export class DrawingClient extends Emitter<DrawingClientEvents> {
  private socket: WebSocketLike | undefined;
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private strokes: Point[][] = [];
  private current: WelcomeMessage | undefined;
  private stateValue: ConnectionState = 'idle';
  private readonly ctor: WebSocketConstructor;
  private readonly backoff: BackoffOptions | undefined;
  private readonly timeoutMs: number;
  private readonly url: string;

  constructor(private readonly options: DrawingClientOptions) {
    super();
    const ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!ctor) throw new Error('no WebSocket implementation: pass options.WebSocket (e.g. the "ws" package)');
    this.ctor = ctor;
    this.backoff = options.reconnect === false ? undefined : { ...defaultBackoff, ...options.reconnect };
    this.timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.url = wsUrl(options.url);
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** The current session's welcome (model, canvas size), once open. */
  get welcome(): WelcomeMessage | undefined {
    return this.current;
  }

  /**
   * Opens the session; resolves with the first welcome, rejects if that first connection fails
   * (the client then keeps reconnecting in the background unless `reconnect: false` or 1008).
   */
  connect(): Promise<WelcomeMessage> {
    if (this.stateValue === 'open' && this.current) return Promise.resolve(this.current);
    return new Promise((resolve, reject) => {
      const offOpen = this.once('open', (welcome) => {
        offClose();
        resolve(welcome);
      });
      const offClose = this.once('close', ({ code, reason }) => {
        offOpen();
        reject(new ConnectionClosedError(code, reason));
      });
      if (this.stateValue === 'idle' || this.stateValue === 'closed') this.open();
    });
  }

  /** Adds a stroke to the canvas (no answer; a live `prediction` event may follow). */
  stroke(points: Point[]): void {
    if (points.length === 0) return;
    this.strokes.push(points);
    if (this.stateValue === 'open') this.sendStroke(points);
  }

  submit(): Promise<PredictionMessage> {
    return this.request({ type: 'submit' }) as Promise<PredictionMessage>;
  }

  async clear(): Promise<void> {
    this.strokes = [];
    await this.request({ type: 'clear' });
  }

  predict(input: { pixels: number[] } | { image: string }): Promise<PredictionMessage> {
    return this.request({ type: 'predict', ...input }) as Promise<PredictionMessage>;
  }

  /** Round trip time in milliseconds. */
  async ping(): Promise<number> {
    const started = performance.now();
    await this.request({ type: 'ping' });
    return performance.now() - started;
  }

  /** Closes for good: no reconnect; requests in flight are rejected. */
  close(): void {
    this.setState('closed');
    clearTimeout(this.reconnectTimer);
    const socket = this.socket;
    this.socket = undefined;
    if (socket) {
      detach(socket);
      socket.close(CloseCode.normal, 'client closed');
    }
    this.failPending(new ConnectionClosedError(CloseCode.normal, 'client closed'));
  }

  private open(): void {
    const protocols = [subprotocol];
    if (this.options.token) protocols.push(bearerSubprotocolPrefix + base64url(this.options.token));
    if (this.stateValue !== 'reconnecting') this.setState('connecting');
    const socket = new this.ctor(this.url, protocols);
    this.socket = socket;
    socket.onmessage = (event) => this.receive(event.data);
    socket.onerror = () => {}; // a close event always follows
    socket.onclose = (event) => this.closed(socket, event.code, event.reason);
  }

  private receive(data: unknown): void {
    if (typeof data !== 'string') return;
    // Only the shape the client relies on is checked: the zod schemas stay out of the browser bundle.
    let message: ServerMessage;
    try {
      message = JSON.parse(data) as ServerMessage;
    } catch {
      return;
    }
    if (typeof message !== 'object' || message === null || !serverTypes.has(message.type)) return;
    if (message.type === 'welcome') {
      this.current = message;
      this.attempt = 0;
      this.setState('open');
      if (this.options.replayStrokes !== false) for (const stroke of this.strokes) this.sendStroke(stroke);
      this.emit('open', message);
      return;
    }
    const id = 'id' in message && typeof message.id === 'string' ? message.id : undefined;
    const pending =
      id === undefined || (message.type === 'prediction' && message.live) ? undefined : this.pending.get(id);
    if (pending && id !== undefined) {
      this.pending.delete(id);
      clearTimeout(pending.timer);
      if (message.type === 'error') pending.reject(new ServerError(message.code, message.message));
      else pending.resolve(message);
      return;
    }
    if (message.type === 'prediction') this.emit('prediction', message);
    else if (message.type === 'error') this.emit('serverError', message);
  }

  private closed(socket: WebSocketLike, code: number, reason: string): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    this.current = undefined;
    this.failPending(new ConnectionClosedError(code, reason));
    const willReconnect =
      this.backoff !== undefined && this.stateValue !== 'closed' && !fatalCloseCodes.has(code);
    this.emit('close', { code, reason, willReconnect });
    if (!willReconnect || !this.backoff) {
      this.setState('closed');
      return;
    }
    const delayMs = backoffDelay(this.attempt, this.backoff);
    this.attempt++;
    this.setState('reconnecting');
    this.emit('reconnecting', { attempt: this.attempt, delayMs });
    this.reconnectTimer = setTimeout(() => this.open(), delayMs);
  }

  private request(message: { type: string } & Record<string, unknown>): Promise<ServerMessage> {
    const socket = this.socket;
    if (!socket || this.stateValue !== 'open') return Promise.reject(new ConnectionClosedError());
    const id = `c${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RequestTimeoutError(message.type, this.timeoutMs));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      socket.send(JSON.stringify({ ...message, id }));
    });
  }

  /** Long strokes go out in pieces that share their end points, which draws the same polyline. */
  private sendStroke(points: Point[]): void {
    for (let start = 0; start < points.length; start += maxPointsPerStroke - 1) {
      const piece = points.slice(start, start + maxPointsPerStroke);
      if (start > 0 && piece.length < 2) break;
      this.socket?.send(JSON.stringify({ type: 'stroke', points: piece }));
    }
  }

  private failPending(error: Error): void {
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      this.pending.delete(id);
      pending.reject(error);
    }
  }

  private setState(state: ConnectionState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    this.emit('state', state);
  }
}

/** `http://h:8080` → `ws://h:8080/ws`; a `ws(s)://` URL is taken as is. */
export function wsUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol === 'http:' || parsed.protocol === 'https:') {
    parsed.protocol = parsed.protocol === 'https:' ? 'wss:' : 'ws:';
    if (parsed.pathname === '/' || parsed.pathname === '') parsed.pathname = '/ws';
  }
  return parsed.toString();
}

function detach(socket: WebSocketLike): void {
  socket.onmessage = null;
  socket.onclose = null;
  socket.onerror = () => {};
}

function base64url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
