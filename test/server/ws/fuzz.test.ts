import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, Peer, startTestRuntime, type TestRuntime } from './harness.ts';

// Thousands of random and malformed frames: the server never crashes, never closes a connection
// for them (except 1009 for an oversized frame), never leaks a session, and answers each frame that
// is not a valid message with `invalid_message`.

let runtime: TestRuntime;
const maxPayload = 64 * 1024;

beforeAll(async () => {
  runtime = await startTestRuntime({
    wsMaxPayloadBytes: maxPayload,
    wsMessagesPerSecond: 1_000_000,
    wsMessageBurst: 1_000_000,
  });
});
afterAll(async () => {
  await runtime?.close();
});

type Frame = { data: string | Buffer; binary: boolean; malformed: boolean };

const types = ['stroke', 'submit', 'clear', 'predict', 'ping'];
// Numbers JSON can carry but a message cannot: out of range once parsed (1e400 is Infinity).
const weirdNumber = fc.constantFrom('1e400', '-1e400', '123456789012345678901234567890', '-4e5');
const anyId = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.double(),
  fc.integer(),
  fc.constant(null),
  fc.object(),
);

/** Messages close to valid ones: known types with random, missing or wrong fields. */
const nearlyValid = fc
  .record(
    {
      type: fc.oneof(fc.constantFrom(...types), fc.string({ maxLength: 10 })),
      id: anyId,
      points: fc.oneof(
        fc.array(fc.record({ x: fc.double(), y: fc.double() }), { maxLength: 50 }),
        fc.array(fc.record({ x: fc.integer({ min: 0, max: 280 }), y: fc.integer({ min: 0, max: 280 }) }), {
          minLength: 1,
          maxLength: 20,
        }),
        fc.anything(),
      ),
      pixels: fc.oneof(
        fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 784, maxLength: 784 }),
        fc.array(fc.double(), { maxLength: 800 }),
        fc.anything(),
      ),
      image: fc.oneof(fc.base64String({ maxLength: 400 }), fc.string(), fc.anything()),
    },
    { requiredKeys: [] },
  )
  .map((value): Frame => ({ data: JSON.stringify(value), binary: false, malformed: false }));

/** Frames that are never a valid message. */
const malformed = fc
  .oneof(
    fc
      .jsonValue()
      .filter((v) => typeof v !== 'object' || v === null || Array.isArray(v))
      .map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 300 }).filter((s) => {
      try {
        JSON.parse(s);
        return false;
      } catch {
        return true;
      }
    }),
    fc
      .tuple(fc.constantFrom('stroke', 'predict'), weirdNumber)
      .map(([type, n]) => `{"type":"${type}","points":[{"x":${n},"y":1}],"pixels":${n}}`),
    fc
      .integer({ min: 1, max: 20_000 })
      .map((depth) => `{"type":"stroke","points":${'['.repeat(depth)}${']'.repeat(depth)}}`),
    fc
      .integer({ min: 1, max: 5_000 })
      .map((depth) => `{"type":"predict","pixels":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`),
    fc.string({ maxLength: 20 }).map((s) => JSON.stringify({ type: `x${s}`, id: 'f' })),
  )
  .map((data): Frame => ({ data, binary: false, malformed: true }));

const binary = fc
  .uint8Array({ maxLength: 2000 })
  .map((bytes): Frame => ({ data: Buffer.from(bytes), binary: true, malformed: true }));
const invalidUtf8 = fc
  .tuple(
    fc.string({ maxLength: 50 }),
    fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82]),
  )
  .map(
    ([text, bad]): Frame => ({
      data: Buffer.concat([Buffer.from(text), Buffer.from(bad)]),
      binary: false,
      malformed: true,
    }),
  );

const frames = fc.oneof(
  { arbitrary: nearlyValid, weight: 4 },
  { arbitrary: malformed, weight: 4 },
  { arbitrary: binary, weight: 1 },
  { arbitrary: invalidUtf8, weight: 1 },
);

it('survives thousands of random and malformed frames', async () => {
  const peers = await Promise.all(Array.from({ length: 4 }, () => Peer.connect(runtime.wsUrl)));
  let sync = 0;
  let checked = 0;
  await fc.assert(
    fc.asyncProperty(frames, fc.nat(3), async (frame, which) => {
      const peer = peers[which] as Peer;
      const start = peer.messages.length;
      peer.ws.send(frame.data, { binary: frame.binary });
      // A ping right behind the frame: everything the frame caused synchronously arrives before its pong.
      const id = `sync-${sync++}`;
      peer.send({ type: 'ping', id });
      await peer.answer(id, 10_000);
      const caused = peer.messages
        .slice(start)
        .filter((m) => !(m.type === 'pong' && m.id === id) && m.type !== 'prediction');
      expect(peer.closed).toBeUndefined();
      if (frame.malformed) {
        const errors = caused.filter((m) => m.type === 'error' && m.code === 'invalid_message');
        expect(errors.length, `frame ${String(frame.data).slice(0, 80)}`).toBeGreaterThanOrEqual(1);
      }
      for (const message of caused) expect(['error', 'pong', 'cleared']).toContain(message.type);
      checked++;
    }),
    { numRuns: 3000, seed: Number(process.env.FUZZ_SEED ?? 7) },
  );
  expect(checked).toBe(3000);
  // Everything the server sent was a valid server message.
  for (const peer of peers) expect(peer.invalid).toEqual([]);
  // The server still serves correctly afterwards.
  const answer = await (peers[0] as Peer).request({ type: 'predict', pixels: Array(784).fill(0) });
  expect(answer.type).toBe('prediction');
  await Promise.all(peers.map((peer) => peer.close()));
  await eventually(() => runtime.app.kinferWs.sessions === 0, 5000, 'no session left');
});

it('oversized frames close with 1009; abrupt disconnects mid-request leak no session', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: maxPayload + 1, max: maxPayload * 4 }), async (size) => {
      const peer = await Peer.connect(runtime.wsUrl);
      peer.ws.send(Buffer.alloc(size, 0x20), { binary: fc.sample(fc.boolean(), 1)[0] ?? false });
      expect((await peer.closedWith()).code).toBe(1009);
    }),
    { numRuns: 20 },
  );
  // Clients that vanish (TCP reset) while their strokes, submits and predictions are in flight.
  const peers = await Promise.all(Array.from({ length: 50 }, () => Peer.connect(runtime.wsUrl)));
  for (const [i, peer] of peers.entries()) {
    peer.send({
      type: 'stroke',
      points: [
        { x: i, y: 0 },
        { x: 100, y: 200 },
      ],
    });
    peer.send({ type: 'submit', id: 1 });
    peer.send({ type: 'predict', id: 2, pixels: Array(784).fill(i % 256) });
    peer.ws.terminate();
  }
  await eventually(
    () => runtime.app.kinferWs.sessions === 0,
    5000,
    'sessions of vanished peers to be released',
  ).catch((error) => {
    throw new Error(`${error.message}: ${runtime.app.kinferWs.sessions} left`);
  });
  expect(runtime.app.kinferWs.bufferedBytes).toBe(0);
  // And the server is still healthy.
  const after = await Peer.connect(runtime.wsUrl);
  expect(await after.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
  await after.close();
});
