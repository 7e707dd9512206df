import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DrawingClient, type WebSocketLike, wsUrl } from '../../../src/client/drawing.ts';
import { ConnectionClosedError, RequestTimeoutError, ServerError } from '../../../src/client/errors.ts';
import { backoffDelay, defaultBackoff } from '../../../src/shared/backoff.ts';

/** An in-memory WebSocket: the test plays the server. */
class FakeSocket implements WebSocketLike {
  static sockets: FakeSocket[] = [];
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols?: string | string[],
  ) {
    FakeSocket.sockets.push(this);
  }
  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }
  close(): void {
    this.readyState = 3;
  }
  serverSends(message: Record<string, unknown>): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  welcome(): void {
    this.readyState = 1;
    this.serverSends({
      type: 'welcome',
      sessionId: 's',
      model: { name: 'm', sha256: 'h' },
      canvas: { width: 280, height: 280 },
    });
  }
  serverCloses(code: number): void {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
}

const last = () => FakeSocket.sockets.at(-1) as FakeSocket;
const make = (options: Partial<ConstructorParameters<typeof DrawingClient>[0]> = {}) =>
  new DrawingClient({ url: 'http://h:1', WebSocket: FakeSocket, requestTimeoutMs: 1000, ...options });

describe('backoffDelay', () => {
  it('grows exponentially up to the cap, minus jitter', () => {
    const opts = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 0.5 };
    expect([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, opts, () => 0))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect(backoffDelay(2, opts, () => 1)).toBe(200);
    expect(backoffDelay(0, defaultBackoff, () => 0.5)).toBeLessThan(defaultBackoff.initialDelayMs);
  });
});

describe('DrawingClient', () => {
  beforeEach(() => {
    FakeSocket.sockets = [];
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  it('turns a base URL into the /ws URL and sends the token as a subprotocol', async () => {
    expect(wsUrl('https://x.example:8443')).toBe('wss://x.example:8443/ws');
    expect(wsUrl('ws://x/ws?a=1')).toBe('ws://x/ws?a=1');
    const client = make({ token: 's3cret' });
    const connected = client.connect();
    expect(last().url).toBe('ws://h:1/ws');
    expect(last().protocols).toEqual(['kinfer', `bearer.${Buffer.from('s3cret').toString('base64url')}`]);
    last().welcome();
    await expect(connected).resolves.toMatchObject({ sessionId: 's' });
    expect(client.state).toBe('open');
  });

  it('correlates answers by id, rejects server errors and timeouts', async () => {
    const client = make();
    const connected = client.connect();
    last().welcome();
    await connected;
    const submit = client.submit();
    const ping = client.ping();
    const clear = client.clear();
    const [s, p, c] = last().sent as { id: string }[];
    expect(new Set([s?.id, p?.id, c?.id]).size).toBe(3);
    // Answers arrive out of order; a live prediction is an event, not an answer.
    last().serverSends({ type: 'pong', id: p?.id });
    last().serverSends({
      type: 'prediction',
      id: 'x',
      prediction: 1,
      confidence: 1,
      probabilities: [],
      latencyMs: 1,
      live: true,
    });
    last().serverSends({ type: 'error', id: s?.id, code: 'empty_canvas', message: 'canvas: nothing drawn' });
    await expect(ping).resolves.toBeTypeOf('number');
    await expect(submit).rejects.toEqual(expect.objectContaining({ code: 'empty_canvas' }));
    await expect(submit).rejects.toBeInstanceOf(ServerError);
    vi.advanceTimersByTime(1001);
    await expect(clear).rejects.toBeInstanceOf(RequestTimeoutError);
  });

  it('emits live predictions and reconnects with backoff, replaying the strokes', async () => {
    const client = make({ reconnect: { initialDelayMs: 100, jitter: 0 } });
    const live: number[] = [];
    client.on('prediction', (message) => live.push(message.prediction));
    const connected = client.connect();
    last().welcome();
    await connected;
    client.stroke([
      { x: 1, y: 1 },
      { x: 2, y: 2 },
    ]);
    last().serverSends({
      type: 'prediction',
      prediction: 4,
      confidence: 1,
      probabilities: [],
      latencyMs: 1,
      live: true,
    });
    expect(live).toEqual([4]);

    const pending = client.submit();
    const reconnecting = vi.fn();
    client.on('reconnecting', reconnecting);
    last().serverCloses(1001);
    await expect(pending).rejects.toBeInstanceOf(ConnectionClosedError);
    expect(reconnecting).toHaveBeenCalledWith({ attempt: 1, delayMs: 100 });
    expect(FakeSocket.sockets).toHaveLength(1);
    vi.advanceTimersByTime(100);
    expect(FakeSocket.sockets).toHaveLength(2);
    last().serverCloses(1006); // the replica is still down: longer wait
    expect(reconnecting).toHaveBeenLastCalledWith({ attempt: 2, delayMs: 200 });
    vi.advanceTimersByTime(200);
    last().welcome();
    expect(last().sent).toEqual([
      {
        type: 'stroke',
        points: [
          { x: 1, y: 1 },
          { x: 2, y: 2 },
        ],
      },
    ]);
    expect(client.state).toBe('open');
    last().serverCloses(1001);
    expect(reconnecting).toHaveBeenLastCalledWith({ attempt: 1, delayMs: 100 }); // reset after a welcome
    client.close();
  });

  it('does not reconnect after an auth failure (1008) or close()', async () => {
    const client = make();
    const connected = client.connect();
    last().serverCloses(1008);
    await expect(connected).rejects.toMatchObject({ closeCode: 1008 });
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.sockets).toHaveLength(1);
    expect(client.state).toBe('closed');
  });

  it('splits long strokes into pieces sharing their end points', async () => {
    const client = make();
    const connected = client.connect();
    last().welcome();
    await connected;
    const points = Array.from({ length: 5000 }, (_, i) => ({ x: i, y: 0 }));
    client.stroke(points);
    const pieces = last().sent as { points: { x: number }[] }[];
    expect(pieces.map((p) => p.points.length)).toEqual([4096, 905]);
    expect(pieces[1]?.points[0]?.x).toBe(4095);
  });
});
