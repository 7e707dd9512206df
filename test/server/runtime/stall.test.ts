import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RunningRuntime } from '../../../src/runtime/server.ts';
import { largePng, postJson, slowestHealthz, startTestRuntime, zigzag } from './helpers.ts';

// No request or /ws message the documented limits allow may hold the event loop: stroke
// rendering, PNG decoding and normalisation run on the preprocessing threads, and what is over a
// limit is refused before any of it runs. /healthz (answered by the event loop) is the witness.
// Before these were moved, each attack below held /healthz for several seconds; the bound here
// is far above a healthy answer on a loaded machine and far below that.

const STALL_MS = 1000;
let runtime: RunningRuntime;
let base: string;
const digit = {
  inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', data: new Array(784).fill(0.1) }],
};

beforeAll(async () => {
  runtime = await startTestRuntime();
  base = runtime.url;
});
afterAll(async () => {
  await runtime?.close();
});

describe('/v1/predict', () => {
  it('refuses a stroke over maxPointsPerStroke (400) and a request over maxPointsPerRequest (413)', async () => {
    const long = await postJson(`${base}/v1/predict`, {
      strokes: [zigzag(10_000, 280)],
      width: 280,
      height: 280,
    });
    expect(long.status).toBe(400);
    expect(long.body.error).toMatch(/^strokes\[0\]: .*at most 4096 points per stroke \(maxPointsPerStroke\)/);
    const many = await postJson(`${base}/v1/predict`, {
      strokes: Array.from({ length: 5 }, () => zigzag(4000, 280)),
      width: 280,
      height: 280,
    });
    expect(many.status).toBe(413);
    expect(many.body.error).toMatch(/^strokes: 20000 points .*at most 16384 \(maxPointsPerRequest\)/);
    const far = await postJson(`${base}/v1/predict`, {
      strokes: [[{ x: 1e300, y: 0 }]],
      width: 280,
      height: 280,
    });
    expect(far.status).toBe(400);
    expect(far.body.error).toMatch(/^strokes\[0\]\[0\]\.x: at most 100000 \(maxCoordinate\)/);
  });

  it('renders the largest drawings the limits allow without holding the event loop', async () => {
    const drawing = { strokes: Array.from({ length: 4 }, () => zigzag(4096, 280)), width: 280, height: 280 };
    const attack = Promise.all(Array.from({ length: 2 }, () => postJson(`${base}/v1/predict`, drawing)));
    const slowest = await slowestHealthz(base, attack);
    for (const response of await attack) expect([200, 503]).toContain(response.status);
    expect(slowest).toBeLessThan(STALL_MS);
  });

  it('refuses more decoded pixels than maxImagePixels per request (413), before decoding', async () => {
    const image = largePng(4096, 4096).toString('base64');
    const response = await postJson(`${base}/v1/predict`, {
      instances: Array.from({ length: 4 }, () => ({ image })),
    });
    expect(response.status).toBe(413);
    expect(response.body.error).toMatch(/^instances\[1\]\.image: .*at most 16777216 \(maxImagePixels\)/);
  });

  it('decodes a large PNG without holding the event loop or the inference workers', async () => {
    const image = largePng(4096, 4096).toString('base64');
    const decoding = postJson(`${base}/v1/predict`, { image });
    await new Promise((resolve) => setTimeout(resolve, 100)); // the decode is under way
    const started = performance.now();
    const v2 = await postJson(`${base}/v2/models/mnist-cnn/infer`, digit);
    const v2Ms = performance.now() - started;
    const slowest = await slowestHealthz(base, decoding);
    expect(v2.status).toBe(200);
    expect((await decoding).status).toBe(200);
    expect(v2Ms).toBeLessThan(STALL_MS);
    expect(slowest).toBeLessThan(STALL_MS);
  });
});

describe('large JSON bodies', () => {
  /** Bodies parsed on a preprocessing thread so far, as /metrics reports them. */
  const parsedOffLoop = async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    return Number(/^kinfer_json_bodies_parsed_off_loop_total (\d+)$/m.exec(text)?.[1]);
  };
  const pixels = Array.from({ length: 1024 * 784 }, (_, i) => ((i * 7919) % 255) / 255);
  /** The largest V2 request maxV2Batch (1024) allows, as clients write it (~15 MB). */
  const largest = (extra: object = {}) =>
    JSON.stringify({
      inputs: [{ name: 'input', shape: [1024, 1, 28, 28], datatype: 'FP32', ...extra, data: pixels }],
    });

  it('parses the largest V2 JSON request off the event loop, to the answers of the same digits sent one by one', async () => {
    const before = await parsedOffLoop();
    expect(before).toBeGreaterThanOrEqual(0);
    // The fast path's shape, and one only the general path reads (an input `parameters` member).
    const bodies = [largest(), largest({ parameters: {} }), largest()];
    const sending = Promise.all(bodies.map((body) => postJson(`${base}/v2/models/mnist-cnn/infer`, body)));
    const slowest = await slowestHealthz(base, sending);
    const answers = await sending;
    expect(await parsedOffLoop()).toBe(before + bodies.length);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.body.outputs[0].shape).toEqual([1024, 10]);
    }
    for (const k of [0, 1, 1023]) {
      const one = await postJson(`${base}/v2/models/mnist-cnn/infer`, {
        inputs: [
          {
            name: 'input',
            shape: [1, 1, 28, 28],
            datatype: 'FP32',
            data: pixels.slice(k * 784, (k + 1) * 784),
          },
        ],
      });
      const row = one.body.outputs[0].data as number[];
      for (const answer of answers) {
        const got = (answer.body.outputs[0].data as number[]).slice(k * 10, k * 10 + 10);
        for (const [i, p] of got.entries()) expect(p).toBeCloseTo(row[i]!, 5);
      }
    }
    // A generous bound (the structural check is the count above): parsing one of these bodies
    // on the event loop held it ~100 ms on the development machine.
    expect(slowest).toBeLessThan(STALL_MS);
  }, 60_000);

  it('parses the largest /v1/predict pixels request off the event loop, to the answers of one instance at a time', async () => {
    const before = await parsedOffLoop();
    const instances = Array.from({ length: 1024 }, (_, k) => ({
      pixels: pixels.slice(k * 784, (k + 1) * 784).map((v) => Math.round(v * 255)),
    }));
    const sending = postJson(`${base}/v1/predict`, { instances });
    const slowest = await slowestHealthz(base, sending);
    const answer = await sending;
    expect(answer.status).toBe(200);
    expect(await parsedOffLoop()).toBe(before + 1);
    expect(answer.body.predictions).toHaveLength(1024);
    for (const k of [0, 511, 1023]) {
      const one = await postJson(`${base}/v1/predict`, instances[k]);
      expect(answer.body.predictions[k].prediction).toBe(one.body.prediction);
      expect(answer.body.predictions[k].confidence).toBeCloseTo(one.body.confidence, 5);
    }
    const bad = structuredClone(instances);
    bad[700]!.pixels[3] = 256;
    const refused = await postJson(`${base}/v1/predict`, { instances: bad });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('instances[700].pixels[3]: expected a number in 0..255');
    expect(slowest).toBeLessThan(STALL_MS);
  }, 60_000);

  it('parses a large JSON header of a binary tensor data body off the event loop, the tensor after it read in place', async () => {
    const before = await parsedOffLoop();
    const infer = (body: Buffer, headerLength: number) =>
      fetch(`${base}/v2/models/mnist-cnn/infer`, {
        method: 'POST',
        headers: {
          'content-type': 'application/octet-stream',
          'inference-header-content-length': String(headerLength),
        },
        body: new Uint8Array(body),
      }).then(async (response) => ({
        status: response.status,
        body: (await response.json()) as { error?: string; outputs: { shape: number[]; data: number[] }[] },
      }));
    // The whole body a JSON header with the data inline (15 MB), as a client may send it.
    const inline = Buffer.from(largest());
    const whole = await infer(inline, inline.length);
    expect(whole.status).toBe(200);
    expect(whole.body.outputs[0]!.shape).toEqual([1024, 10]);
    // A header padded past the threshold, then the raw tensor of the first digit.
    const digit = Float32Array.from(pixels.slice(0, 784));
    const header = Buffer.from(
      `${JSON.stringify({ inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', parameters: { binary_data_size: 784 * 4 } }] })}${' '.repeat(300_000)}`,
    );
    const padded = await infer(Buffer.concat([header, Buffer.from(digit.buffer)]), header.length);
    expect(padded.status).toBe(200);
    expect(await parsedOffLoop()).toBe(before + 2);
    const row = (answer: { body: { outputs: { data: number[] }[] } }) =>
      answer.body.outputs[0]!.data.slice(0, 10);
    for (const [i, p] of row(padded).entries()) expect(p).toBeCloseTo(row(whole)[i]!, 5);
    // Refused as a small one is: not JSON, and bytes after the header it does not announce.
    const broken = await infer(Buffer.concat([header.subarray(0, 100), header]), header.length + 100);
    expect(broken.status).toBe(400);
    expect(broken.body.error).toMatch(/^body: the JSON header does not parse \(/);
    const unannounced = Buffer.from(largest());
    const extra = await infer(Buffer.concat([unannounced, Buffer.from([1, 2, 3, 4])]), unannounced.length);
    expect(extra.status).toBe(400);
    expect(extra.body.error).toBe(
      'body: bytes after the JSON header, but no input has parameters.binary_data_size',
    );
  }, 60_000);

  it('answers a large body that is not valid JSON, or nests too deep, as a small one (400)', async () => {
    const broken = await postJson(`${base}/v2/models/mnist-cnn/infer`, `${largest()}]`);
    expect(broken.status).toBe(400);
    expect(broken.body.error).toBe("Body is not valid JSON but content-type is set to 'application/json'");
    const deep = `{"instances":[${'{"pixels":[0],"x":'.repeat(100)}0${'}'.repeat(100)}],"pad":"${' '.repeat(300_000)}"}`;
    const refused = await postJson(`${base}/v1/predict`, deep);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/JSON nested deeper than 64 levels \(maxJsonDepth\)$/);
  });
});

describe('/ws', () => {
  const session = async () => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/ws`);
    const messages: { type: string; id?: unknown; code?: string; message?: string }[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
    await new Promise((resolve) => ws.once('message', resolve));
    const answered = (n: number) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (messages.filter((m) => m.id !== undefined && !('live' in m)).length >= n) resolve();
          else setTimeout(check, 20);
        };
        check();
      });
    return { ws, messages, answered };
  };

  it('renders a full canvas for every submit without holding the event loop', async () => {
    const peers = await Promise.all([session(), session()]);
    for (const { ws } of peers) {
      ws.send(JSON.stringify({ type: 'stroke', points: zigzag(4096, 280) }));
      for (let i = 0; i < 2; i++) ws.send(JSON.stringify({ type: 'submit', id: i }));
    }
    const slowest = await slowestHealthz(base, Promise.all(peers.map((p) => p.answered(2))));
    for (const { ws, messages } of peers) {
      expect(messages.filter((m) => m.id !== undefined).map((m) => m.type)).toEqual(
        expect.arrayContaining(['prediction']),
      );
      ws.close();
    }
    expect(slowest).toBeLessThan(STALL_MS);
  });

  it('refuses a message of more JSON values than any message needs before parsing it', async () => {
    const peer = await session();
    // ~0.8 MB, within wsMaxPayloadBytes: 60,000 points, which JSON.parse took ~0.1 s to read.
    const points = Array.from({ length: 60_000 }, () => ({ x: 1, y: 2 }));
    peer.ws.send(JSON.stringify({ type: 'stroke', id: 'big', points }));
    peer.ws.send(JSON.stringify({ type: 'ping', id: 'after' }));
    await peer.answered(1); // the pong: the refusal has no id (the message was never parsed)
    expect(peer.messages.filter((m) => m.type !== 'welcome' && !('live' in m))).toEqual([
      {
        type: 'error',
        code: 'invalid_message',
        message:
          'message: more than 9216 JSON values (a stroke holds at most 4096 points), refused before parsing',
      },
      expect.objectContaining({ type: 'pong', id: 'after' }),
    ]);
    peer.ws.close();
  });

  it('decodes PNGs without holding the event loop, and names maxImagePixels for a larger one', async () => {
    const peer = await session();
    const image = largePng(4096, 4096).toString('base64');
    for (let i = 0; i < 2; i++) peer.ws.send(JSON.stringify({ type: 'predict', id: i, image }));
    const slowest = await slowestHealthz(base, peer.answered(2));
    // The preprocessing queue holds about two such images: one may be told to retry.
    const answers = peer.messages.filter((m) => m.id !== undefined);
    expect(answers.filter((m) => m.type === 'prediction').length).toBeGreaterThanOrEqual(1);
    for (const answer of answers)
      expect(answer.type === 'prediction' || answer.code === 'overloaded').toBe(true);
    expect(slowest).toBeLessThan(STALL_MS);
    peer.ws.send(
      JSON.stringify({ type: 'predict', id: 'big', image: largePng(4097, 4096).toString('base64') }),
    );
    await peer.answered(3);
    expect(peer.messages.at(-1)).toMatchObject({
      type: 'error',
      id: 'big',
      code: 'invalid_image',
      message: expect.stringMatching(/^image: 4097x4096 .*\(maxImagePixels\)$/),
    });
    peer.ws.close();
  });
});
