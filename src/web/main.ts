import type { Point, PredictionMessage } from '../api/ws.ts';
import { DrawingClient } from '../client/drawing.ts';
import './jobs.ts';

/**
 * The demo page: pointer events (mouse, touch, pen) draw on the canvas; the points go to the
 * server in small pieces while drawing, and the throttled live predictions fill the bars.
 */

const element = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const canvas = element<HTMLCanvasElement>('canvas');
const context = canvas.getContext('2d') as CanvasRenderingContext2D;
const status = element('status');
const answer = element('prediction');
const confidence = element('confidence');
const bars = element('bars');

const rows = Array.from({ length: 10 }, (_, digit) => {
  const label = document.createElement('span');
  label.textContent = String(digit);
  const bar = document.createElement('div');
  bar.className = 'bar';
  const fill = document.createElement('div');
  bar.append(fill);
  const value = document.createElement('span');
  value.className = 'value';
  bars.append(label, bar, value);
  return { bar, fill, value };
});

const token = new URLSearchParams(location.search).get('token') ?? undefined;
const client = new DrawingClient({
  url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
  token,
});

client.on('state', (state) => {
  status.dataset.state = state;
  status.textContent = {
    idle: '',
    connecting: 'connecting…',
    open: 'connected',
    reconnecting: 'reconnecting…',
    closed: 'disconnected',
  }[state];
});
client.on('open', (welcome) => {
  element('model-name').textContent = welcome.model.name;
  element('model-sha256').textContent = welcome.model.sha256 || '(loading)';
});
client.on('reconnecting', ({ delayMs }) => {
  status.textContent = `reconnecting in ${(delayMs / 1000).toFixed(1)} s…`;
});
client.on('prediction', show);
client.on('serverError', (error) => {
  status.textContent = `${error.code}: ${error.message}`;
});

function show(message: PredictionMessage): void {
  answer.textContent = String(message.prediction);
  answer.dataset.prediction = String(message.prediction);
  answer.dataset.live = String(Boolean(message.live));
  confidence.textContent = `${(message.confidence * 100).toFixed(1)}% sure · ${message.latencyMs.toFixed(1)} ms`;
  message.probabilities.forEach((probability, digit) => {
    const row = rows[digit];
    if (!row) return;
    row.fill.style.width = `${(probability * 100).toFixed(1)}%`;
    row.value.textContent = `${(probability * 100).toFixed(1)}%`;
    row.bar.classList.toggle('best', digit === message.prediction);
  });
}

function reset(): void {
  context.fillStyle = '#000';
  context.fillRect(0, 0, canvas.width, canvas.height);
  answer.textContent = '';
  answer.dataset.prediction = '';
  confidence.textContent = '';
  for (const row of rows) {
    row.fill.style.width = '0';
    row.value.textContent = '';
    row.bar.classList.remove('best');
  }
}

// Drawing: the stroke so far is drawn locally at once; every animation frame the new points go
// out as one `stroke` piece that starts at the previous piece's last point (same polyline).
let stroke: Point[] | undefined;
let sent = 0;

const toCanvas = (event: PointerEvent): Point => {
  const box = canvas.getBoundingClientRect();
  return {
    x: Math.round(((event.clientX - box.left) / box.width) * canvas.width * 10) / 10,
    y: Math.round(((event.clientY - box.top) / box.height) * canvas.height * 10) / 10,
  };
};

const flush = (): void => {
  if (!stroke) return;
  const start = Math.max(0, sent - 1);
  if (stroke.length - start >= (sent === 0 ? 1 : 2)) client.stroke(stroke.slice(start));
  sent = stroke.length;
};

let framePending = false;
const scheduleFlush = (): void => {
  if (framePending) return;
  framePending = true;
  requestAnimationFrame(() => {
    framePending = false;
    flush();
  });
};

canvas.addEventListener('pointerdown', (event) => {
  canvas.setPointerCapture(event.pointerId);
  stroke = [toCanvas(event)];
  sent = 0;
  context.strokeStyle = '#fff';
  context.fillStyle = '#fff';
  context.lineWidth = 18;
  context.lineCap = 'round';
  context.lineJoin = 'round';
  const p = stroke[0] as Point;
  context.beginPath();
  context.arc(p.x, p.y, 9, 0, Math.PI * 2);
  context.fill();
  scheduleFlush();
});
canvas.addEventListener('pointermove', (event) => {
  if (!stroke) return;
  const previous = stroke[stroke.length - 1] as Point;
  const point = toCanvas(event);
  stroke.push(point);
  context.beginPath();
  context.moveTo(previous.x, previous.y);
  context.lineTo(point.x, point.y);
  context.stroke();
  scheduleFlush();
});
const end = (): void => {
  flush();
  stroke = undefined;
};
canvas.addEventListener('pointerup', end);
canvas.addEventListener('pointercancel', end);

element('clear').addEventListener('click', () => {
  reset();
  client.clear().catch(() => {});
});
element('submit').addEventListener('click', () => {
  client.submit().then(show, (error: Error) => {
    status.textContent = error.message;
  });
});

reset();
client.connect().catch(() => {}); // failures show in the status; the client keeps reconnecting
