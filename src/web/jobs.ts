import type { JobServerMessage, PreviewMessage } from '../api/jobs.ts';
import { backoffDelay } from '../shared/backoff.ts';

/**
 * The page's Jobs view: with `?job=ws://HOST:PORT/ws/jobs/NAME` (an InferenceJob's previewEndpoint,
 * e.g. through `kubectl port-forward svc/NAME-preview 8090:8080`) it follows the job's preview
 * stream: progress bar, the mosaic of the newest digits with their predicted labels, the summary.
 * It reconnects with `?afterSeq=` and ignores seqs it has already shown.
 */
const endpoint = new URLSearchParams(location.search).get('job');
if (endpoint) followJob(endpoint);

function followJob(url: string): void {
  const element = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
  element('jobs').hidden = false;
  element('job-name').textContent = url;
  const status = element('job-status');
  const fill = element('job-fill');
  const progressText = element('job-progress');
  const canvas = element<HTMLCanvasElement>('job-mosaic');
  const labels = element('job-labels');
  const summary = element('job-summary');
  let lastSeq = 0;
  let finished = false;
  let attempt = 0;

  const drawPreview = (preview: PreviewMessage): void => {
    const [height, width] = preview.shape;
    canvas.width = width;
    canvas.height = height;
    const raw = atob(preview.payload);
    const image = new ImageData(width, height);
    for (let i = 0; i < width * height; i++) {
      const v = Math.round((raw.charCodeAt(i) * 255) / preview.scale);
      image.data.set([v, v, v, 255], i * 4);
    }
    canvas.getContext('2d')?.putImageData(image, 0, 0);
    labels.style.gridTemplateColumns = `repeat(${preview.grid.cols}, ${preview.grid.cell}px)`;
    labels.replaceChildren(
      ...preview.labels.map((label) => {
        const cell = document.createElement('span');
        cell.textContent = String(label);
        return cell;
      }),
    );
  };

  const connect = (): void => {
    const ws = new WebSocket(lastSeq ? `${url}?afterSeq=${lastSeq}` : url);
    ws.onopen = () => {
      attempt = 0;
      status.textContent = 'connected';
      status.dataset.state = 'open';
    };
    ws.onmessage = (event) => {
      // Type-only import: zod stays out of the browser bundle; the runner validates what it sends.
      const message = parseServerMessage(String(event.data));
      if (!message || message.seq <= lastSeq) return;
      lastSeq = message.seq;
      if (message.type === 'progress') {
        fill.style.width = `${message.percent}%`;
        progressText.textContent = `${message.processed} / ${message.total} (${message.percent}%)`;
      } else if (message.type === 'preview') {
        drawPreview(message);
      } else if (message.type === 'completed') {
        finished = true;
        const { progress, result } = message.summary;
        fill.style.width = '100%';
        progressText.textContent = `${progress.processed} / ${progress.total} (100%)`;
        summary.textContent = [
          `done: ${Math.round(result.imagesPerSecond)} images/s`,
          result.accuracy !== undefined ? `accuracy ${(result.accuracy * 100).toFixed(2)}%` : '',
          `p50 ${result.latencyMs.p50.toFixed(1)} ms, p99 ${result.latencyMs.p99.toFixed(1)} ms`,
        ]
          .filter(Boolean)
          .join(' · ');
        ws.close();
      } else {
        finished = true;
        summary.textContent = `failed: ${message.code}: ${message.message}`;
        ws.close();
      }
    };
    ws.onclose = () => {
      if (finished) {
        status.textContent = 'finished';
        status.dataset.state = 'done';
        return;
      }
      attempt += 1;
      const delay = backoffDelay(attempt, { initialDelayMs: 250, maxDelayMs: 10_000 });
      status.textContent = `reconnecting in ${(delay / 1000).toFixed(1)} s…`;
      status.dataset.state = 'reconnecting';
      setTimeout(connect, delay);
    };
  };
  connect();
}

const messageTypes = new Set(['progress', 'preview', 'completed', 'error']);

function parseServerMessage(text: string): JobServerMessage | undefined {
  try {
    const value = JSON.parse(text) as Partial<JobServerMessage> | null;
    if (value && typeof value.seq === 'number' && messageTypes.has(String(value.type))) {
      return value as JobServerMessage;
    }
  } catch {
    // Not JSON: ignored like any other frame this page does not understand.
  }
  return undefined;
}
