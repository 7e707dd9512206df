// An in-cluster client, run in a pod of the kinfer image (`node /client/client.mjs`): it uses the
// image's own compiled typed client and MNIST test set, talks to KINFER_URL (a ModelDeployment's
// status.endpoints), and prints one JSON line with what it saw. Modes (KINFER_CLIENT_MODE):
//   serve         V2 infer, /v1/predict and /ws (a drawn "7" and dataset digits), with KINFER_TOKEN if set
//   unauthorized  the same requests without a token: the status codes and the /ws close code
//   pods          KINFER_REQUESTS V2 requests, counting the kinfer-pod header of each answer
//   load          until /tmp/stop exists: V2 requests from 4 loops and 10 /ws sessions drawing and
//                 submitting a "7"; a REST request is retried once on a connection error
//   previews      follows a job's preview stream (KINFER_URL = status.previewEndpoint) to its end
import http from 'node:http';
import { drawingClient, RestClient } from '/app/dist/client/index.js';
import { loadMnistTest } from '/app/dist/datasets/idx.js';
import { followJob } from '/app/dist/jobs/stream-client.js';

const url = process.env.KINFER_URL;
const token = process.env.KINFER_TOKEN || undefined;
const mode = process.env.KINFER_CLIENT_MODE ?? 'serve';
const model = process.env.KINFER_MODEL_NAME ?? 'mnist-cnn';
const headers = {
  'content-type': 'application/json',
  ...(token ? { authorization: `Bearer ${token}` } : {}),
};

/** A "7" on the 280x280 canvas: the bar, then the stem. */
const seven = [
  [
    { x: 60, y: 60 },
    { x: 215, y: 60 },
  ],
  [
    { x: 215, y: 60 },
    { x: 175, y: 140 },
    { x: 140, y: 230 },
  ],
];

const argmax = (values) => values.reduce((best, v, i) => (v > values[best] ? i : best), 0);

function digits(mnist, from, count) {
  const out = [];
  for (let i = from; i < from + count; i++) {
    out.push({ pixels: Array.from(mnist.images.subarray(i * 784, (i + 1) * 784)), label: mnist.labels[i] });
  }
  return out;
}

function v2Body(batch) {
  return JSON.stringify({
    inputs: [
      {
        name: 'input',
        shape: [batch.length, 1, 28, 28],
        datatype: 'FP32',
        data: batch.flatMap((d) => d.pixels.map((p) => p / 255)),
      },
    ],
  });
}

async function v2(batch) {
  const response = await fetch(`${url}/v2/models/${model}/infer`, {
    method: 'POST',
    headers,
    body: v2Body(batch),
  });
  const body = await response.json();
  if (!response.ok) return { status: response.status, pod: response.headers.get('kinfer-pod'), body };
  const probabilities = body.outputs[0].data;
  const predictions = batch.map((_, i) => argmax(probabilities.slice(i * 10, i * 10 + 10)));
  return { status: response.status, pod: response.headers.get('kinfer-pod'), predictions };
}

async function serve() {
  const mnist = await loadMnistTest('/app/datasets/mnist-test');
  const batch = digits(mnist, 0, 100);
  const infer = await v2(batch);
  const rest = new RestClient({ url, token });
  const predicted = await rest.predict({ pixels: batch[0].pixels });
  const many = await Promise.all(batch.slice(0, 20).map((d) => rest.predict({ pixels: d.pixels })));
  const session = drawingClient({ url, token });
  await session.connect();
  for (const stroke of seven) session.stroke(stroke);
  const drawn = await session.submit();
  const wsDigits = [];
  for (const d of batch.slice(0, 20)) wsDigits.push((await session.predict({ pixels: d.pixels })).prediction);
  session.close();
  return {
    labels: batch.map((d) => d.label),
    v2: infer.predictions,
    v2Pod: infer.pod,
    predict: [predicted.prediction, ...many.map((p) => p.prediction)],
    drawn: drawn.prediction,
    ws: wsDigits,
  };
}

async function unauthorized() {
  const mnist = await loadMnistTest('/app/datasets/mnist-test');
  const batch = digits(mnist, 0, 1);
  const infer = await v2(batch);
  const predict = await fetch(`${url}/v1/predict`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ pixels: batch[0].pixels }),
  });
  const closeCode = await new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`, ['kinfer']);
    ws.onclose = (event) => resolve(event.code);
    ws.onerror = () => {};
  });
  return { v2: infer.status, predict: predict.status, wsClose: closeCode };
}

async function pods() {
  const mnist = await loadMnistTest('/app/datasets/mnist-test');
  const batch = digits(mnist, 0, 1);
  const count = Number(process.env.KINFER_REQUESTS ?? 60);
  const servedBy = {};
  let failed = 0;
  for (let i = 0; i < count; i++) {
    // A new connection per request (agent: false), so the Service spreads them over its pods.
    const { status, pod } = await postOnce(`${url}/v2/models/${model}/infer`, v2Body(batch));
    if (status !== 200) failed++;
    servedBy[pod ?? '(none)'] = (servedBy[pod ?? '(none)'] ?? 0) + 1;
  }
  return { servedBy, failed };
}

async function previews() {
  const seen = { progress: 0, previews: [], end: undefined };
  const follower = followJob({
    url,
    onMessage: (message) => {
      if (message.type === 'progress') seen.progress++;
      if (message.type === 'preview') seen.previews.push({ at: Date.now(), images: message.labels.length });
    },
  });
  const end = await follower.done;
  seen.end = end.type === 'completed' ? { type: end.type, summary: end.summary } : end;
  return seen;
}

async function load() {
  const { existsSync } = await import('node:fs');
  const mnist = await loadMnistTest('/app/datasets/mnist-test');
  const [digit] = digits(mnist, 0, 1);
  const body = v2Body([digit]);
  const started = Date.now();
  const stopped = () => existsSync('/tmp/stop');
  const rest = { ok: 0, failed: 0, retried: 0, wrong: 0, errors: [], perSecond: 0 };
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const send = () =>
    fetch(`${url}/v2/models/${model}/infer`, { method: 'POST', headers, body }).then(async (response) => ({
      status: response.status,
      body: await response.text(),
    }));
  const restLoop = async () => {
    while (!stopped()) {
      let answer;
      try {
        answer = await send();
      } catch (error) {
        // A connection the server closed as we sent on it: the one retry clients must make.
        rest.retried++;
        answer = await send().catch((e) => ({ status: 0, body: String(e.cause ?? e) }));
        if (answer.status === 0) answer.body = `${String(error.cause ?? error)} then ${answer.body}`;
      }
      if (answer.status === 200) {
        rest.ok++;
        if (argmax(JSON.parse(answer.body).outputs[0].data) !== digit.label) rest.wrong++;
      } else {
        rest.failed++;
        if (rest.errors.length < 10) rest.errors.push(`${answer.status} ${answer.body.slice(0, 200)}`);
      }
      await sleep(40);
    }
  };
  const ws = { answered: 0, wrong: 0, resubmitted: 0, closeCodes: {}, failedConnects: {}, errors: [] };
  const wsLoop = async () => {
    const session = drawingClient({ url, token, reconnect: { initialDelayMs: 100, maxDelayMs: 1000 } });
    // Closes of sessions that had started (welcome received) apart from connection attempts that
    // never became one (e.g. a reconnect reaching a pod that is already going away).
    let welcomed = false;
    session.on('open', () => {
      welcomed = true;
    });
    session.on('close', ({ code }) => {
      const counts = welcomed ? ws.closeCodes : ws.failedConnects;
      counts[code] = (counts[code] ?? 0) + 1;
      welcomed = false;
    });
    const opened = () =>
      session.state === 'open' ? Promise.resolve() : new Promise((resolve) => session.once('open', resolve));
    await session.connect();
    while (!stopped()) {
      await session.clear().catch(() => {});
      for (const stroke of seven) session.stroke(stroke);
      // Each drawing gets its answer: a submit cut by a close is sent again once reconnected.
      for (let attempt = 0; ; attempt++) {
        try {
          await opened();
          const answer = await session.submit();
          ws.answered++;
          if (answer.prediction !== 7) ws.wrong++;
          break;
        } catch (error) {
          ws.resubmitted++;
          if (attempt >= 20) {
            ws.errors.push(String(error));
            break;
          }
          await sleep(200);
        }
      }
      await sleep(200);
    }
    session.close();
  };
  await Promise.all([...Array.from({ length: 4 }, restLoop), ...Array.from({ length: 10 }, wsLoop)]);
  const durationMs = Date.now() - started;
  rest.perSecond = Math.round((rest.ok + rest.failed) / (durationMs / 1000));
  return { durationMs, rest, ws };
}

function postOnce(target, body) {
  return new Promise((resolve, reject) => {
    const request = http.request(target, { method: 'POST', headers, agent: false }, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode, pod: response.headers['kinfer-pod'] }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

const run = { serve, unauthorized, pods, previews, load }[mode];
if (!run) throw new Error(`KINFER_CLIENT_MODE: unknown mode ${mode}`);
run().then(
  (result) => {
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
    process.exit(0);
  },
  (error) => {
    process.stderr.write(`${error.stack ?? error}\n`);
    process.exit(1);
  },
);
