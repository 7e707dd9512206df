import type {
  ClientMessage,
  MessageId,
  Point,
  PredictionMessage,
  PredictMessage,
  ServerMessage,
  WsErrorCode,
} from '../../api/ws.ts';

/** What a session needs from the model: the shared batcher (design.md, interfaces.md). */
export interface SessionPredictor {
  readonly model: { name: string; sha256: string };
  predict(images: Float32Array, count: number): Promise<Float32Array>;
}

/**
 * The preprocessing of the runtime, each resolving to 784 floats in 0..1; the runtime runs them on
 * its preprocessing threads, so their rejections carry its error codes (`invalid_input`,
 * `too_large`, `overloaded`, ...).
 */
export interface SessionPreprocess {
  fromStrokes(strokes: Point[][], width: number, height: number): Promise<Float32Array>;
  fromPixels(pixels: ArrayLike<number>): Promise<Float32Array>;
  fromPng(png: Buffer): Promise<Float32Array>;
}

export interface SessionSettings {
  canvasWidth: number;
  canvasHeight: number;
  liveIntervalMs: number;
  maxPointsPerSession: number;
}

export interface SessionIo {
  send(message: ServerMessage): void;
  /** False while the peer is not reading: live predictions wait, answers still go out. */
  canSendLive(): boolean;
  /** Called whenever the number of answers in flight drops (the plugin may resume reading). */
  settled(): void;
  /** Logs a failure that the client only sees as `internal`. */
  logError(error: unknown, context: string): void;
}

/**
 * One drawing session: a canvas of accumulated strokes, answers to client messages, and throttled
 * live predictions while drawing. At most one live prediction is in flight; when it returns, the
 * next one (if the canvas changed) renders the newest canvas, so intermediate states are skipped.
 * Transport concerns (frames, limits, heartbeat) belong to the plugin, not here.
 */
export class Session {
  private strokes: Point[][] = [];
  private points = 0;
  /** Bumped by every stroke and clear; a live prediction is current only for its version. */
  private version = 0;
  private liveVersion = 0;
  private liveInFlight = false;
  private liveTimer: ReturnType<typeof setTimeout> | undefined;
  private lastLiveAt = Number.NEGATIVE_INFINITY;
  /** `id` of the newest stroke: a live prediction echoes the newest stroke it includes. */
  private lastStrokeId: MessageId | undefined;
  private inFlightAnswers = 0;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly id: string,
    private readonly predictor: SessionPredictor,
    private readonly preprocess: SessionPreprocess,
    private readonly settings: SessionSettings,
    private readonly io: SessionIo,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Answers awaiting the model (live predictions not counted). */
  get inFlight(): number {
    return this.inFlightAnswers;
  }

  get pointCount(): number {
    return this.points;
  }

  handle(message: ClientMessage, receivedAt = this.now()): void {
    if (this.closed) return;
    switch (message.type) {
      case 'ping':
        this.io.send(withId({ type: 'pong' }, message.id));
        return;
      case 'clear':
        this.strokes = [];
        this.points = 0;
        this.version++;
        this.liveVersion = this.version;
        this.lastStrokeId = undefined;
        this.cancelLiveTimer();
        this.io.send(withId({ type: 'cleared' }, message.id));
        return;
      case 'stroke':
        this.addStroke(message.points, message.id);
        return;
      case 'submit':
        if (this.points === 0) {
          this.error('empty_canvas', 'canvas: nothing drawn yet; send strokes before submit', message.id);
          return;
        }
        this.answer(message.id, receivedAt, () => this.renderCanvas());
        // The answer covers this canvas: a live prediction of it (in flight or due) would only
        // arrive after the answer and replace it on the client's screen.
        this.liveVersion = this.version;
        this.cancelLiveTimer();
        return;
      case 'predict':
        this.answer(message.id, receivedAt, () => this.renderPredictInput(message));
        return;
    }
  }

  /** Resolves once no answer is in flight (used on shutdown before closing with 1001). */
  idle(): Promise<void> {
    if (this.inFlightAnswers === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops live predictions and drops whatever is in flight; answers are no longer sent. */
  close(): void {
    this.closed = true;
    this.cancelLiveTimer();
    this.strokes = [];
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Called by the plugin when a backed-up socket drained: a pending live prediction may go now. */
  drained(): void {
    if (this.version !== this.liveVersion) this.scheduleLive();
  }

  private addStroke(points: Point[], id: MessageId | undefined): void {
    if (this.points + points.length > this.settings.maxPointsPerSession) {
      this.error(
        'canvas_full',
        `points: the canvas holds at most ${this.settings.maxPointsPerSession} points; send clear first`,
        id,
      );
      return;
    }
    this.strokes.push(points);
    this.points += points.length;
    this.version++;
    this.lastStrokeId = id;
    this.scheduleLive();
  }

  private scheduleLive(): void {
    if (this.closed || this.liveInFlight || this.liveTimer !== undefined) return;
    const delay = Math.max(0, this.lastLiveAt + this.settings.liveIntervalMs - this.now());
    this.liveTimer = setTimeout(() => {
      this.liveTimer = undefined;
      this.runLive();
    }, delay);
  }

  private runLive(): void {
    if (this.closed || this.version === this.liveVersion || this.points === 0) return;
    // A peer that does not read gets no new live predictions until its socket drains (drained()).
    if (!this.io.canSendLive()) return;
    const version = this.version;
    const strokeId = this.lastStrokeId;
    const started = this.now();
    this.liveInFlight = true;
    this.lastLiveAt = started;
    this.renderCanvas()
      .then((image) => this.predictor.predict(image, 1))
      .then(
        (probabilities) => {
          this.liveInFlight = false;
          if (this.closed) return;
          // A clear since the request makes this answer stale; newer strokes make it merely old.
          if (version <= this.liveVersion) return this.scheduleLiveIfDirty();
          this.liveVersion = version;
          this.io.send({ ...prediction(probabilities, this.now() - started, strokeId), live: true });
          this.scheduleLiveIfDirty();
        },
        (error: unknown) => {
          this.liveInFlight = false;
          // Overload and warm-up are transient: the next stroke (or drain) tries again.
          if (!isTransient(error)) this.io.logError(error, 'live prediction');
          this.liveVersion = version;
          this.scheduleLiveIfDirty();
        },
      );
  }

  private scheduleLiveIfDirty(): void {
    if (this.version !== this.liveVersion) this.scheduleLive();
  }

  private answer(id: MessageId | undefined, receivedAt: number, render: () => Promise<Float32Array>): void {
    // Counted from the start: preprocessing is work in flight too (the plugin's backpressure).
    this.inFlightAnswers++;
    render()
      .then(
        (image) =>
          this.predictor.predict(image, 1).then(
            (probabilities) => {
              if (!this.closed) this.io.send(prediction(probabilities, this.now() - receivedAt, id));
            },
            (error: unknown) => this.failed(error, 'prediction', id),
          ),
        (error: unknown) => this.failed(error, 'preprocessing', id),
      )
      .finally(() => {
        this.inFlightAnswers--;
        if (this.inFlightAnswers === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
        this.io.settled();
      });
  }

  /** The error answer for a failed preprocessing or prediction: the client's fault, or ours. */
  private failed(error: unknown, stage: 'preprocessing' | 'prediction', id: MessageId | undefined): void {
    if (this.closed) return;
    const code = (error as { code?: unknown } | undefined)?.code;
    const message = errorMessage(error, String(code));
    if (code === 'too_large') this.error('too_large', message, id);
    else if (code === 'invalid_input') {
      this.error(message.startsWith('image: ') ? 'invalid_image' : 'invalid_message', message, id);
    } else if (transientCode(error)) this.error(transientCode(error)!, message, id);
    else {
      this.io.logError(error, stage);
      this.error('internal', `${stage} failed`, id);
    }
  }

  private renderCanvas(): Promise<Float32Array> {
    // A copy: the canvas may grow before a queued render is sent to its thread.
    return this.preprocess.fromStrokes(
      this.strokes.slice(),
      this.settings.canvasWidth,
      this.settings.canvasHeight,
    );
  }

  private renderPredictInput(message: PredictMessage): Promise<Float32Array> {
    if (message.pixels) return this.preprocess.fromPixels(message.pixels);
    const png = Buffer.from((message.image ?? '').replace(/^data:image\/png;base64,/, ''), 'base64');
    return this.preprocess.fromPng(png);
  }

  private error(code: WsErrorCode, message: string, id: MessageId | undefined): void {
    this.io.send(withId({ type: 'error', code, message }, id));
  }

  private cancelLiveTimer(): void {
    if (this.liveTimer !== undefined) clearTimeout(this.liveTimer);
    this.liveTimer = undefined;
  }
}

/** `{type, id?, ...}` with `id` right after `type`, omitted when the client sent none. */
function withId<T extends { type: string }>(message: T, id: MessageId | undefined): T & { id?: MessageId } {
  if (id === undefined) return message;
  const { type, ...rest } = message;
  return { type, id, ...rest } as T & { id?: MessageId };
}

/** The `prediction` message for one image's 10 probabilities. */
export function prediction(
  probabilities: Float32Array,
  latencyMs: number,
  id: MessageId | undefined,
): PredictionMessage {
  let best = 0;
  for (let digit = 1; digit < 10; digit++) {
    if ((probabilities[digit] ?? 0) > (probabilities[best] ?? 0)) best = digit;
  }
  return withId(
    {
      type: 'prediction',
      prediction: best,
      confidence: probabilities[best] ?? 0,
      probabilities: Array.from(probabilities.subarray(0, 10)),
      latencyMs: Math.round(latencyMs * 1000) / 1000,
    },
    id,
  );
}

const transientCodes = new Set(['overloaded', 'not_ready', 'shutting_down'] as const);
type TransientCode = typeof transientCodes extends Set<infer T> ? T : never;

function transientCode(error: unknown): TransientCode | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return transientCodes.has(code as TransientCode) ? (code as TransientCode) : undefined;
}

function isTransient(error: unknown): boolean {
  return transientCode(error) !== undefined;
}

function errorMessage(error: unknown, code: string): string {
  return error instanceof Error && error.message ? error.message : code;
}
