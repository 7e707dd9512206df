import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Point, ServerMessage } from '../../../src/api/ws.ts';
import { Session, type SessionPreprocess } from '../../../src/runtime/ws/session.ts';

/** A predictor whose answers the test releases by hand: the digit is the image's first value. */
function fakePredictor() {
  const pending: {
    images: Float32Array;
    resolve: (p: Float32Array) => void;
    reject: (e: unknown) => void;
  }[] = [];
  return {
    pending,
    model: { name: 'fake', sha256: 'abc' },
    predict(images: Float32Array, count: number) {
      expect(count).toBe(1);
      return new Promise<Float32Array>((resolve, reject) => pending.push({ images, resolve, reject }));
    },
    /** Answers the oldest request with a one-hot on digit = round(first value). */
    answer() {
      const next = pending.shift();
      if (!next) throw new Error('nothing pending');
      const probabilities = new Float32Array(10);
      probabilities[Math.round(next.images[0] ?? 0) % 10] = 1;
      next.resolve(probabilities);
    },
  };
}

/**
 * The "image" of a canvas is [number of strokes, ...]: enough to see which canvas was rendered.
 * Asynchronous like the runtime's (its preprocessing threads), rejecting with its error codes.
 */
const preprocess: SessionPreprocess = {
  fromStrokes: async (strokes: Point[][]) => Float32Array.of(strokes.length),
  fromPixels: async (pixels) => Float32Array.of(pixels[0] ?? 0),
  fromPng: async (png) => {
    if (png[0] !== 0x89) throw Object.assign(new Error('image: not a PNG file'), { code: 'invalid_input' });
    return Float32Array.of(png[1] ?? 0);
  },
};

const settings = { canvasWidth: 280, canvasHeight: 280, liveIntervalMs: 50, maxPointsPerSession: 10 };

function setup(canSendLive = () => true) {
  const predictor = fakePredictor();
  const sent: ServerMessage[] = [];
  const errors: unknown[] = [];
  const session = new Session('s1', predictor, preprocess, settings, {
    send: (message) => sent.push(message),
    canSendLive,
    settled: () => {},
    logError: (error) => errors.push(error),
  });
  return { predictor, sent, errors, session };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));
const stroke = (id?: string) => ({
  type: 'stroke' as const,
  points: [{ x: 1, y: 1 }],
  ...(id ? { id } : {}),
});

describe('Session', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  it('answers ping and clear with the id', () => {
    const { session, sent } = setup();
    session.handle({ type: 'ping', id: 'a' });
    session.handle({ type: 'clear', id: 2 });
    session.handle({ type: 'ping' });
    expect(sent).toEqual([{ type: 'pong', id: 'a' }, { type: 'cleared', id: 2 }, { type: 'pong' }]);
  });

  it('predicts the canvas on submit with the id, and refuses an empty canvas', async () => {
    const { session, sent, predictor } = setup();
    session.handle({ type: 'submit', id: 's0' });
    expect(sent.pop()).toMatchObject({ type: 'error', id: 's0', code: 'empty_canvas' });
    session.handle(stroke());
    session.handle(stroke());
    session.handle({ type: 'submit', id: 's1' });
    expect(session.inFlight).toBe(1);
    await flush();
    predictor.answer();
    await flush();
    expect(sent).toEqual([
      {
        type: 'prediction',
        id: 's1',
        prediction: 2,
        confidence: 1,
        probabilities: [0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
        latencyMs: expect.any(Number),
      },
    ]);
    expect(session.inFlight).toBe(0);
  });

  it('throttles live predictions: one in flight, the newest canvas wins', async () => {
    const { session, sent, predictor } = setup();
    session.handle(stroke('a'));
    await vi.advanceTimersByTimeAsync(0);
    expect(predictor.pending).toHaveLength(1); // first stroke: live prediction right away
    session.handle(stroke('b'));
    session.handle(stroke('c'));
    await vi.advanceTimersByTimeAsync(200);
    expect(predictor.pending).toHaveLength(1); // never two in flight
    predictor.answer();
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual([
      expect.objectContaining({ type: 'prediction', id: 'a', prediction: 1, live: true }),
    ]);
    await vi.advanceTimersByTimeAsync(50);
    expect(predictor.pending).toHaveLength(1); // b skipped: c's canvas (3 strokes) is rendered
    predictor.answer();
    await vi.advanceTimersByTimeAsync(100);
    expect(sent[1]).toMatchObject({ type: 'prediction', id: 'c', prediction: 3, live: true });
    expect(predictor.pending).toHaveLength(0); // nothing new drawn: no more live predictions
  });

  it('sends no live prediction of a canvas after the submit answer for it', async () => {
    const { session, sent, predictor } = setup();
    session.handle(stroke('a'));
    await vi.advanceTimersByTimeAsync(0);
    session.handle(stroke('b')); // a live prediction of [a, b] is now due
    session.handle({ type: 'submit', id: 'go' });
    await flush();
    predictor.answer(); // the live prediction of [a] (in flight before the submit)
    predictor.answer(); // the submit
    await vi.advanceTimersByTimeAsync(200);
    expect(predictor.pending).toHaveLength(0);
    expect(sent.map((m) => ('id' in m ? m.id : undefined))).toEqual(['go']);
    session.handle(stroke('c')); // drawing on: live predictions again
    await vi.advanceTimersByTimeAsync(100);
    predictor.answer();
    await vi.advanceTimersByTimeAsync(0);
    expect(sent.at(-1)).toMatchObject({ id: 'c', live: true, prediction: 3 });
  });

  it('drops a live prediction made stale by clear', async () => {
    const { session, sent, predictor } = setup();
    session.handle(stroke());
    await vi.advanceTimersByTimeAsync(0);
    session.handle({ type: 'clear' });
    predictor.answer();
    await vi.advanceTimersByTimeAsync(100);
    expect(sent).toEqual([{ type: 'cleared' }]);
    expect(predictor.pending).toHaveLength(0);
  });

  it('holds live predictions while the peer is backed up, and sends the newest once drained', async () => {
    let open = false;
    const { session, sent, predictor } = setup(() => open);
    session.handle(stroke());
    session.handle(stroke());
    await vi.advanceTimersByTimeAsync(500);
    expect(predictor.pending).toHaveLength(0);
    open = true;
    session.drained();
    await vi.advanceTimersByTimeAsync(0);
    predictor.answer();
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual([expect.objectContaining({ prediction: 2, live: true })]);
  });

  it('limits the points of a canvas', () => {
    const { session, sent } = setup();
    session.handle({ type: 'stroke', id: 'big', points: Array.from({ length: 11 }, () => ({ x: 0, y: 0 })) });
    expect(sent).toEqual([
      expect.objectContaining({
        type: 'error',
        id: 'big',
        code: 'canvas_full',
        message: expect.stringMatching(/^points: /),
      }),
    ]);
    expect(session.pointCount).toBe(0);
  });

  it('predicts pixels and PNGs, answering invalid_image and transient errors with their codes', async () => {
    const { session, sent, predictor } = setup();
    session.handle({ type: 'predict', id: 1, pixels: Array.from({ length: 784 }, () => 4) });
    session.handle({ type: 'predict', id: 2, image: Buffer.from([0x89, 7]).toString('base64') });
    session.handle({ type: 'predict', id: 3, image: Buffer.from('GIF89a').toString('base64') });
    await flush();
    predictor.answer();
    predictor.answer();
    session.handle({ type: 'predict', id: 4, pixels: Array.from({ length: 784 }, () => 0) });
    await flush();
    predictor.pending.shift()?.reject(Object.assign(new Error('queue full'), { code: 'overloaded' }));
    session.handle({ type: 'predict', id: 5, pixels: Array.from({ length: 784 }, () => 0) });
    await flush();
    predictor.pending.shift()?.reject(new Error('boom'));
    await flush();
    expect(sent.map((m) => [m.type, 'id' in m ? m.id : undefined, 'code' in m ? m.code : undefined])).toEqual(
      [
        ['error', 3, 'invalid_image'],
        ['prediction', 1, undefined],
        ['prediction', 2, undefined],
        ['error', 4, 'overloaded'],
        ['error', 5, 'internal'],
      ],
    );
    expect(sent[1]).toMatchObject({ prediction: 4 });
    expect(sent[2]).toMatchObject({ prediction: 7 });
    expect(sent[0]).toMatchObject({ message: 'image: not a PNG file' }); // named once, not "image: image:"
    expect(sent[4]).toMatchObject({ message: 'prediction failed' }); // no internals leak
  });

  it('idle() waits for answers in flight; close() stops everything', async () => {
    const { session, sent, predictor } = setup();
    session.handle({ type: 'predict', id: 1, pixels: Array.from({ length: 784 }, () => 1) });
    let idle = false;
    void session.idle().then(() => {
      idle = true;
    });
    await flush();
    expect(idle).toBe(false);
    predictor.answer();
    await flush();
    expect(idle).toBe(true);
    expect(sent).toHaveLength(1);
    session.handle(stroke());
    session.close();
    await vi.advanceTimersByTimeAsync(1000);
    expect(predictor.pending).toHaveLength(0);
  });
});
