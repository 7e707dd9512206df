import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMnistTest, type MnistTest } from '../../../src/datasets/idx.ts';
import { fromPixels, fromStrokes } from '../../../src/runtime/preprocess/index.ts';
import { eventually, Peer, startTestRuntime, type TestRuntime } from './harness.ts';

let mnist: MnistTest;
beforeAll(async () => {
  mnist = await loadMnistTest();
});

const argmax = (values: ArrayLike<number>, offset = 0): number => {
  let best = 0;
  for (let i = 1; i < 10; i++) if ((values[offset + i] ?? 0) > (values[offset + best] ?? 0)) best = i;
  return best;
};

/** A different scribble for every session, so that a mixed-up canvas gives a different answer. */
function scribble(i: number): { x: number; y: number }[][] {
  const angle = (i * 2.399) % (2 * Math.PI);
  return [
    Array.from({ length: 12 }, (_, k) => ({
      x: 140 + Math.cos(angle + k * 0.5) * (30 + (i % 50)),
      y: 140 + Math.sin(angle + k * 0.7) * (60 - (i % 40)),
    })),
    [
      { x: 20 + (i % 200), y: 30 },
      { x: 250 - (i % 180), y: 250 },
    ],
  ];
}

describe('1,000 concurrent drawing sessions', () => {
  let runtime: TestRuntime;
  beforeAll(async () => {
    runtime = await startTestRuntime({ workers: 2 });
  });
  afterAll(async () => {
    await runtime?.close();
  });

  it('each session gets its own correct answers', async () => {
    const sessions = 1000;
    // Expected answers, computed without the WebSocket: the predictor itself, in batches.
    const images = new Float32Array(sessions * 784);
    const drawings = new Float32Array(sessions * 784);
    for (let i = 0; i < sessions; i++) {
      images.set(fromPixels(mnist.images.subarray(i * 784, i * 784 + 784)), i * 784);
      drawings.set(fromStrokes(scribble(i), 280, 280), i * 784);
    }
    const expectedDigits: number[] = [];
    const expectedDrawings: number[] = [];
    for (let start = 0; start < sessions; start += 100) {
      const [a, b] = await Promise.all([
        runtime.predictor.predict(images.subarray(start * 784, (start + 100) * 784), 100),
        runtime.predictor.predict(drawings.subarray(start * 784, (start + 100) * 784), 100),
      ]);
      for (let k = 0; k < 100; k++) {
        expectedDigits.push(argmax(a, k * 10));
        expectedDrawings.push(argmax(b, k * 10));
      }
    }
    // The drawings must not all look alike, or a mix-up between sessions would go unnoticed.
    expect(new Set(expectedDrawings).size).toBeGreaterThan(2);

    const peers = await Promise.all(Array.from({ length: sessions }, () => Peer.connect(runtime.wsUrl)));
    expect(runtime.app.kinferWs.sessions).toBe(sessions);
    expect(new Set(peers.map((p) => p.welcome.sessionId)).size).toBe(sessions);
    const answers = await Promise.all(
      peers.map(async (peer, i) => {
        for (const stroke of scribble(i)) peer.send({ type: 'stroke', points: stroke });
        const [digit, drawing] = await Promise.all([
          peer.request({
            type: 'predict',
            pixels: Array.from(mnist.images.subarray(i * 784, i * 784 + 784)),
          }),
          peer.request({ type: 'submit' }),
        ]);
        return { digit, drawing };
      }),
    );
    let correct = 0;
    answers.forEach(({ digit, drawing }, i) => {
      expect(digit).toMatchObject({ type: 'prediction', prediction: expectedDigits[i] });
      expect(drawing).toMatchObject({ type: 'prediction', prediction: expectedDrawings[i] });
      if (digit.type === 'prediction' && digit.prediction === mnist.labels[i]) correct++;
    });
    // The real model on real digits: MNIST accuracy, not just agreement with itself.
    expect(correct / sessions).toBeGreaterThan(0.97);
    await Promise.all(peers.map((peer) => peer.close()));
    await eventually(() => runtime.app.kinferWs.sessions === 0, 10_000, 'every session closed');
  });
});

describe('heartbeat', () => {
  let runtime: TestRuntime;
  beforeAll(async () => {
    runtime = await startTestRuntime({ wsHeartbeatIntervalMs: 250 });
  });
  afterAll(async () => {
    await runtime?.close();
  });

  it('drops a peer that stops answering pings, keeps one that answers', async () => {
    const alive = await Peer.connect(runtime.wsUrl);
    const dead = await Peer.connect(runtime.wsUrl, { autoPong: false });
    expect(runtime.app.kinferWs.sessions).toBe(2);
    const closed = await dead.closedWith(10_000);
    expect(closed.code).toBe(1006); // terminated without a close frame: the peer is presumed gone
    await eventually(() => runtime.app.kinferWs.sessions === 1, 10_000, 'the dead session to be released');
    await new Promise((resolve) => setTimeout(resolve, 1000)); // several more heartbeats
    expect(alive.closed).toBeUndefined();
    expect(await alive.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    await alive.close();
  });
});

describe('slow readers', () => {
  let runtime: TestRuntime;
  const maxBuffered = 64 * 1024;
  beforeAll(async () => {
    // The default heartbeat (30 s): a peer that does not read does not answer pings either.
    runtime = await startTestRuntime({
      wsMaxBufferedBytes: maxBuffered,
      wsMessagesPerSecond: 1_000_000,
      wsMessageBurst: 1_000_000,
    });
  });
  afterAll(async () => {
    await runtime?.close();
  });

  it('a client that does not read costs the server a bounded buffer, and loses nothing', async () => {
    const peer = await Peer.connect(runtime.wsUrl);
    peer.ws.pause(); // stop reading: the server's answers pile up
    const id = 'x'.repeat(120);
    // Each request gets a ~2x larger error answer: ~9 MB of requests, ~19 MB of answers, far more than
    // the kernel's socket buffers on both sides (tcp_wmem/tcp_rmem max 4 + 6 MB) can absorb.
    const count = 50_000;
    const bad = [{ x: 'a' }, { x: 'b' }];
    for (let i = 0; i < count; i++) peer.send({ type: 'stroke', id: `${id}${i}`, points: bad });
    // Steady state: the kernel buffers are full and the server has stopped reading the peer for
    // 20 samples in a row (how long that takes depends on the machine, so no fixed wait).
    let peak = 0;
    let pausedInARow = 0;
    const deadline = Date.now() + 30_000;
    while (pausedInARow < 20) {
      if (Date.now() > deadline) throw new Error('the server never stopped reading the slow peer');
      peak = Math.max(peak, runtime.app.kinferWs.bufferedBytes);
      pausedInARow = runtime.app.kinferWs.paused === 1 ? pausedInARow + 1 : 0;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // Bounded by the limit plus the answers to one read chunk, however much the client sends.
    expect(peak).toBeGreaterThanOrEqual(maxBuffered);
    expect(peak).toBeLessThan(maxBuffered + 256 * 1024);

    peer.ws.resume();
    await peer.until(() => peer.messages.length === count + 1, 60_000);
    const errors = peer.messages.filter((m) => m.type === 'error');
    expect(errors).toHaveLength(count);
    expect(errors.at(0)).toMatchObject({
      id: `${id}0`,
      code: 'invalid_message',
      message: /^points\[0\]\.x: /,
    });
    expect(errors.at(-1)).toMatchObject({ id: `${id}${count - 1}` });
    expect(runtime.app.kinferWs.paused).toBe(0);
    await peer.close();
  });
});
