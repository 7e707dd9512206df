import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadMnistTest, type MnistTest } from '../../../src/datasets/idx.ts';
import { fromPixels, fromStrokes } from '../../../src/runtime/preprocess/index.ts';
import { eventually, Peer, startTestRuntime, type TestRuntime } from './harness.ts';

// Conformance of `/ws` (design.md) against the real runtime on loopback: every message type,
// every error path, every close code.

let runtime: TestRuntime;
let mnist: MnistTest;

beforeAll(async () => {
  [runtime, mnist] = await Promise.all([startTestRuntime({ wsLiveIntervalMs: 20 }), loadMnistTest()]);
});
afterAll(async () => {
  await runtime?.close();
});

const digit = (index: number): number[] => Array.from(mnist.images.subarray(index * 784, index * 784 + 784));
const argmax = (values: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] ?? 0) > (values[best] ?? 0)) best = i;
  return best;
};
/** A "7": a bar and a diagonal, drawn on the 280x280 canvas. */
const seven = [
  [
    { x: 70, y: 60 },
    { x: 210, y: 60 },
  ],
  [
    { x: 210, y: 60 },
    { x: 130, y: 230 },
  ],
];

async function restPredict(body: unknown): Promise<{ prediction: number; probabilities: number[] }> {
  const response = await fetch(`${runtime.url}/v1/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { prediction: number; probabilities: number[] };
}

describe('/ws messages', () => {
  it('welcomes each connection with its own session, the model and the canvas', async () => {
    const [a, b] = await Promise.all([Peer.connect(runtime.wsUrl), Peer.connect(runtime.wsUrl)]);
    expect(a.welcome).toEqual({
      type: 'welcome',
      sessionId: expect.any(String),
      model: { name: 'mnist-cnn', sha256: runtime.predictor.model.sha256 },
      canvas: { width: 280, height: 280 },
    });
    expect(runtime.predictor.model.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(a.welcome.sessionId).not.toBe(b.welcome.sessionId);
    expect(a.ws.protocol).toBe('');
    await Promise.all([a.close(), b.close()]);
  });

  it('answers ping with pong, echoing the id (string or number) or none', async () => {
    const peer = await Peer.connect(runtime.wsUrl);
    peer.send({ type: 'ping', id: 42 });
    expect(await peer.answer(42)).toEqual({ type: 'pong', id: 42 });
    peer.send({ type: 'ping' });
    await peer.until(() => peer.messages.some((m) => m.type === 'pong' && !('id' in m)));
    expect(await peer.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    await peer.close();
  });

  it('draws strokes with live predictions, submits the canvas and clears it', async () => {
    const peer = await Peer.connect(runtime.wsUrl);
    peer.send({ type: 'stroke', id: 's1', points: seven[0] });
    peer.send({ type: 'stroke', id: 's2', points: seven[1] });
    // A live prediction follows drawing; the last one covers the newest stroke and echoes its id.
    await peer.until(() => peer.messages.some((m) => m.type === 'prediction' && m.live && m.id === 's2'));
    const expected = await runtime.predictor.predict(fromStrokes(seven, 280, 280), 1);
    const live = peer.messages.filter((m) => m.type === 'prediction' && m.live).at(-1);
    expect(live).toMatchObject({ prediction: argmax(expected), live: true });

    const submitted = await peer.request({ type: 'submit' });
    expect(submitted).toEqual({
      type: 'prediction',
      id: expect.any(String),
      prediction: argmax(expected),
      confidence: expect.any(Number),
      probabilities: expect.any(Array),
      latencyMs: expect.any(Number),
    });
    if (submitted.type !== 'prediction') throw new Error('unreachable');
    for (const [i, p] of submitted.probabilities.entries()) expect(p).toBeCloseTo(expected[i] ?? -1, 5);
    expect(submitted.confidence).toBe(Math.max(...submitted.probabilities));
    // The same drawing through REST gives the same answer.
    expect((await restPredict({ strokes: seven, width: 280, height: 280 })).prediction).toBe(
      argmax(expected),
    );

    expect(await peer.request({ type: 'clear' })).toEqual({ type: 'cleared', id: expect.any(String) });
    expect(await peer.request({ type: 'submit' })).toMatchObject({ type: 'error', code: 'empty_canvas' });
    await peer.close();
  });

  it('predicts 784 pixels and a PNG like REST does', async () => {
    const peer = await Peer.connect(runtime.wsUrl);
    const pixels = digit(0);
    const rest = await restPredict({ pixels });
    const answer = await peer.request({ type: 'predict', pixels });
    expect(answer).toMatchObject({ type: 'prediction', prediction: rest.prediction });
    expect(rest.prediction).toBe(argmax(await runtime.predictor.predict(fromPixels(pixels), 1)));

    const png = new PNG({ width: 28, height: 28, colorType: 0, inputColorType: 0, bitDepth: 8 });
    png.data = Buffer.from(digit(1));
    const image = PNG.sync.write(png, { colorType: 0, inputColorType: 0 }).toString('base64');
    const restPng = await restPredict({ image });
    expect(await peer.request({ type: 'predict', image })).toMatchObject({
      type: 'prediction',
      prediction: restPng.prediction,
    });
    expect(await peer.request({ type: 'predict', image: `data:image/png;base64,${image}` })).toMatchObject({
      prediction: restPng.prediction,
    });
    await peer.close();
  });
});

describe('/ws errors keep the connection open', () => {
  const cases: [string, string | Buffer, RegExp][] = [
    ['not JSON', '{"type":', /^frame: not valid JSON/],
    ['a JSON array', '[1,2]', /^message: expected a JSON object/],
    [
      'an unknown type',
      '{"type":"draw","id":"e1"}',
      /^type: expected one of stroke, submit, clear, predict, ping/,
    ],
    ['a missing field', '{"type":"stroke","id":"e2"}', /^points: /],
    [
      'a wrong type',
      '{"type":"stroke","id":"e3","points":[{"x":"1","y":2}]}',
      /^points\[0\]\.x: .*expected number/,
    ],
    ['a huge number', '{"type":"stroke","points":[{"x":1e400,"y":2}]}', /^points\[0\]\.x: /],
    ['too few pixels', '{"type":"predict","pixels":[0,1,2]}', /^pixels: /],
    [
      'pixels and image',
      `{"type":"predict","pixels":${JSON.stringify(Array(784).fill(0))},"image":"AA=="}`,
      /^pixels: exactly one/,
    ],
    ['a bad id', '{"type":"ping","id":{"nested":true}}', /^id: /],
    [
      'nesting over maxJsonDepth',
      `{"type":"stroke","points":${'['.repeat(100_000)}${']'.repeat(100_000)}}`,
      /^points: JSON nested deeper than 64 levels \(maxJsonDepth\)/,
    ],
    ['a binary frame', Buffer.from([1, 2, 3]), /^frame: binary frames are not accepted/],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), /^frame: not valid UTF-8/],
  ];

  for (const [what, frame, message] of cases) {
    it(`answers ${what} with invalid_message naming the field`, async () => {
      const peer = await Peer.connect(runtime.wsUrl);
      if (Buffer.isBuffer(frame) && what === 'invalid UTF-8') {
        // Sent as a text frame with invalid bytes: `ws` lets a client do this when told to.
        peer.ws.send(frame, { binary: false });
      } else peer.send(frame);
      await peer.until(() => peer.messages.some((m) => m.type === 'error'));
      const error = peer.messages.find((m) => m.type === 'error');
      expect(error).toMatchObject({
        type: 'error',
        code: 'invalid_message',
        message: expect.stringMatching(message),
      });
      // The id of a malformed message is echoed when it is itself valid.
      const id = /"id":"(e\d)"/.exec(String(frame))?.[1];
      if (id) expect(error).toMatchObject({ id });
      expect(await peer.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
      expect(peer.closed).toBeUndefined();
      await peer.close();
    });
  }

  it('answers an undecodable PNG with invalid_image', async () => {
    const peer = await Peer.connect(runtime.wsUrl);
    const answer = await peer.request({
      type: 'predict',
      image: Buffer.from('GIF89a not a png').toString('base64'),
    });
    expect(answer).toMatchObject({
      type: 'error',
      code: 'invalid_image',
      message: expect.stringMatching(/^image: /),
    });
    await peer.close();
  });

  it('counts sessions, messages, errors and closes in /metrics', async () => {
    const peer = await Peer.connect(runtime.wsUrl);
    const metrics = await (await fetch(`${runtime.url}/metrics`)).text();
    expect(metrics).toMatch(/^kinfer_ws_sessions [1-9]/m);
    expect(metrics).toMatch(/^kinfer_ws_messages_total\{type="invalid"\} [1-9]/m);
    expect(metrics).toMatch(/^kinfer_ws_messages_total\{type="ping"\} [1-9]/m);
    expect(metrics).toMatch(/^kinfer_ws_errors_total\{code="invalid_message"\} [1-9]/m);
    expect(metrics).toMatch(/^kinfer_ws_closes_total\{code="1005"\} [1-9]/m); // clients closing without a code
    await peer.close();
  });

  it('explains itself to plain HTTP and refuses upgrades elsewhere', async () => {
    const response = await fetch(`${runtime.url}/ws`);
    expect(response.status).toBe(426);
    const elsewhere = new WebSocket(`${runtime.wsUrl}/other`);
    const [error] = (await new Promise((resolve) => elsewhere.once('error', (e) => resolve([e])))) as [Error];
    expect(error.message).toMatch(/404/);
  });
});

describe('/ws limits and close codes', () => {
  let limited: TestRuntime;
  const token = 'test-token-ü';
  const auth = { headers: { authorization: `Bearer ${token}` } };

  beforeAll(async () => {
    limited = await startTestRuntime({
      token,
      maxConnections: 2,
      wsMaxPayloadBytes: 4096,
      wsMessagesPerSecond: 20,
      wsMessageBurst: 5,
    });
  });
  afterAll(async () => {
    await limited?.close();
  });

  it('1008 without the bearer token or with a wrong one; header, subprotocol or query accepted', async () => {
    for (const options of [
      {},
      { headers: { authorization: 'Bearer wrong' } },
      { protocols: ['kinfer', 'bearer.d3Jvbmc'] },
    ]) {
      const peer = await Peer.connect(limited.wsUrl, options);
      expect(await peer.closedWith()).toEqual({ code: 1008, reason: 'missing or invalid bearer token' });
      expect(peer.messages).toEqual([]);
    }
    const byHeader = await Peer.connect(limited.wsUrl, auth);
    await byHeader.close();
    const bySubprotocol = await Peer.connect(limited.wsUrl, {
      protocols: ['kinfer', `bearer.${Buffer.from(token).toString('base64url')}`],
    });
    expect(bySubprotocol.ws.protocol).toBe('kinfer');
    expect(bySubprotocol.welcome.type).toBe('welcome');
    await bySubprotocol.close();
    const byQuery = await Peer.connect(`${limited.wsUrl}?token=${encodeURIComponent(token)}`);
    expect(byQuery.welcome.type).toBe('welcome');
    await byQuery.close();
  });

  it('1013 beyond maxConnections, and room again once a session ends', async () => {
    await eventually(() => limited.app.kinferWs.sessions === 0, 5000, 'sessions to close');
    const a = await Peer.connect(limited.wsUrl, auth);
    const b = await Peer.connect(limited.wsUrl, auth);
    const c = await Peer.connect(limited.wsUrl, auth);
    expect(await c.closedWith()).toEqual({ code: 1013, reason: 'too many sessions, retry later' });
    await a.close();
    await eventually(() => limited.app.kinferWs.sessions === 1, 5000, 'a to be gone');
    const d = await Peer.connect(limited.wsUrl, auth);
    expect(d.welcome.type).toBe('welcome');
    await Promise.all([b.close(), d.close()]);
  });

  it('1009 for a frame over maxPayload', async () => {
    const peer = await Peer.connect(limited.wsUrl, auth);
    peer.send({ type: 'stroke', points: Array.from({ length: 300 }, (_, i) => ({ x: i, y: i })) });
    expect((await peer.closedWith()).code).toBe(1009);
    await eventually(() => limited.app.kinferWs.sessions === 0, 5000, 'the session to be released');
  });

  it('rate_limited above the per-connection rate, once, then served again', async () => {
    const peer = await Peer.connect(limited.wsUrl, auth);
    for (let i = 0; i < 30; i++) peer.send({ type: 'ping', id: i });
    await peer.until(() => peer.messages.some((m) => m.type === 'error'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const pongs = peer.messages.filter((m) => m.type === 'pong');
    const errors = peer.messages.filter((m) => m.type === 'error');
    expect(pongs.length).toBeGreaterThanOrEqual(5);
    expect(pongs.length).toBeLessThan(10);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    // One error per burst over the limit (more only if the server read the pings in several chunks).
    expect(errors.length).toBeLessThan(5);
    for (const error of errors) {
      expect(error).toEqual({
        type: 'error',
        code: 'rate_limited',
        message: expect.stringMatching(/^message: more than 20 messages per second/),
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await peer.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    expect(peer.closed).toBeUndefined();
    await peer.close();
  });
});

describe('/ws shutdown', () => {
  it('answers what is in flight, then closes every session with 1001', async () => {
    const server = await startTestRuntime();
    const peers = await Promise.all(Array.from({ length: 5 }, () => Peer.connect(server.wsUrl)));
    const predictions = (peer: Peer) => peer.messages.filter((m) => m.type === 'prediction');
    for (const peer of peers) {
      for (let i = 0; i < 100; i++) peer.send({ type: 'predict', id: i, pixels: digit(i) });
    }
    // Shut down while answers are still being computed.
    await eventually(() => peers.some((p) => predictions(p).length > 0), 5000, 'first answers');
    const before = peers.reduce((sum, peer) => sum + predictions(peer).length, 0);
    const closing = server.close();
    const closes = await Promise.all(peers.map((peer) => peer.closedWith()));
    await closing;
    expect(closes).toEqual(peers.map(() => ({ code: 1001, reason: 'server shutting down' })));
    // Clean close handshakes (the server read the peers' close frames), not 1006 terminations.
    const closeCounts = await server.app.metrics.registry.getSingleMetricAsString('kinfer_ws_closes_total');
    expect(closeCounts).toContain('kinfer_ws_closes_total{code="1001"} 5');
    expect(closeCounts).not.toContain('code="1006"');
    const after = peers.reduce((sum, peer) => sum + predictions(peer).length, 0);
    expect(after).toBeGreaterThan(before); // answers in flight at SIGTERM still went out
    for (const peer of peers) {
      // Requests were read in order; every one read was answered (none dropped in the middle).
      const ids = predictions(peer).map((m) => Number('id' in m ? m.id : -1));
      expect(ids.sort((x, y) => x - y)).toEqual(ids.map((_, i) => i));
      expect(peer.messages.filter((m) => m.type === 'error')).toEqual([]);
    }
    // New connections are refused once the server is closed.
    const late = new WebSocket(server.wsUrl);
    await new Promise((resolve) => late.once('error', resolve));
  });
});
