import type { JobProgress, JobResult, PreviewMessage } from '../api/jobs.ts';

/** `[██████░░░░]  64% 640/1000`, `width` cells of bar. */
export function progressBar(progress: JobProgress, width = 30): string {
  const filled =
    progress.total === 0 ? 0 : Math.min(width, Math.floor((progress.processed / progress.total) * width));
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${String(progress.percent).padStart(3)}% ${progress.processed}/${progress.total}`;
}

const grey = (value: number): number => Math.max(0, Math.min(255, Math.round(value)));

/**
 * The preview mosaic for a terminal: every character cell is an upper half block whose
 * foreground is the top pixel and background the bottom one (24-bit colour), after averaging
 * `scale`x`scale` blocks; then one line of predicted labels per grid row.
 */
export function renderMosaic(
  preview: Pick<PreviewMessage, 'shape' | 'payload' | 'scale' | 'grid' | 'labels'>,
  maxColumns = 80,
): string[] {
  const [height, width] = preview.shape;
  const pixels = Buffer.from(preview.payload, 'base64');
  const scale = Math.max(1, Math.ceil(width / maxColumns));
  const columns = Math.floor(width / scale);
  const rows = Math.floor(height / scale);
  const at = (x: number, y: number): number => {
    let sum = 0;
    for (let dy = 0; dy < scale; dy++)
      for (let dx = 0; dx < scale; dx++) sum += pixels[(y * scale + dy) * width + x * scale + dx] ?? 0;
    return grey(((sum / (scale * scale)) * 255) / preview.scale);
  };
  const lines: string[] = [];
  const cellColumns = preview.grid.cell / scale;
  const cellRows = Math.ceil(preview.grid.cell / scale / 2);
  for (let y = 0; y < rows; y += 2) {
    let line = '';
    for (let x = 0; x < columns; x++) {
      const top = at(x, y);
      const bottom = y + 1 < rows ? at(x, y + 1) : 0;
      line += `\x1b[38;2;${top};${top};${top}m\x1b[48;2;${bottom};${bottom};${bottom}m▀`;
    }
    lines.push(`${line}\x1b[0m`);
    // After the last text row of each grid row, that row's predicted labels, centred under the tiles.
    const textRow = y / 2;
    if ((textRow + 1) % cellRows === 0 || y + 2 >= rows) {
      const gridRow = Math.floor(textRow / cellRows);
      const labels = preview.labels.slice(gridRow * preview.grid.cols, (gridRow + 1) * preview.grid.cols);
      lines.push(
        labels
          .map((label) =>
            String(label)
              .padStart(Math.ceil(cellColumns / 2))
              .padEnd(cellColumns),
          )
          .join(''),
      );
    }
  }
  return lines;
}

export function summaryLines(progress: JobProgress, result: JobResult): string[] {
  const counts = result.classCounts.map((count, digit) => `${digit}:${count}`).join(' ');
  return [
    `classified ${progress.processed} images in ${(result.durationMs / 1000).toFixed(1)} s (${Math.round(result.imagesPerSecond)} images/s)`,
    ...(result.accuracy !== undefined
      ? [`accuracy ${(result.accuracy * 100).toFixed(2)}% over ${result.labelled} labelled images`]
      : []),
    `batch latency p50 ${result.latencyMs.p50.toFixed(1)} ms, p99 ${result.latencyMs.p99.toFixed(1)} ms; ${result.retries} retries`,
    `per digit ${counts}`,
  ];
}
