import { describe, expect, it } from 'vitest';
import { progressBar, renderMosaic, summaryLines } from '../../../src/jobs/terminal.ts';

const ESC = String.fromCharCode(27);
const strip = (line: string): string => line.replace(new RegExp(`${ESC}\\[[0-9;]*m`, 'g'), '');

describe('terminal rendering', () => {
  it('draws a progress bar proportional to the work done', () => {
    expect(progressBar({ processed: 640, total: 1000, percent: 64 }, 10)).toBe('[██████░░░░]  64% 640/1000');
    expect(progressBar({ processed: 0, total: 0, percent: 0 }, 4)).toBe('[░░░░]   0% 0/0');
  });

  it('draws the mosaic with half blocks, two pixel rows per line, and the labels under each grid row', () => {
    // A 2x2 grid of 28x28 tiles: the top-left tile white, the rest black.
    const pixels = new Uint8Array(56 * 56);
    for (let y = 0; y < 28; y++) pixels.fill(255, y * 56, y * 56 + 28);
    const preview = {
      shape: [56, 56] as [number, number],
      payload: Buffer.from(pixels).toString('base64'),
      scale: 255,
      grid: { rows: 2, cols: 2, cell: 28 },
      labels: [7, 1, 0, 9],
    };
    const lines = renderMosaic(preview, 56);
    const art = lines.filter((line) => line.includes('▀'));
    expect(art).toHaveLength(28);
    expect(strip(art[0]!)).toBe('▀'.repeat(56));
    expect(art[0]).toContain('\x1b[38;2;255;255;255m\x1b[48;2;255;255;255m▀');
    expect(art[20]).toContain('\x1b[38;2;0;0;0m\x1b[48;2;0;0;0m▀');
    const labels = lines.filter((line) => !line.includes('▀')).map((line) => line.trim().split(/\s+/));
    expect(labels).toEqual([
      ['7', '1'],
      ['0', '9'],
    ]);
    // A narrower terminal averages blocks of pixels.
    expect(strip(renderMosaic(preview, 28).find((line) => line.includes('▀'))!)).toHaveLength(28);
  });

  it('summarises the result', () => {
    const lines = summaryLines(
      { processed: 100, total: 100, percent: 100 },
      {
        classCounts: [10, 10, 10, 10, 10, 10, 10, 10, 10, 10],
        accuracy: 0.99,
        labelled: 100,
        imagesPerSecond: 2000,
        latencyMs: { p50: 1, p99: 2 },
        retries: 0,
        durationMs: 50,
      },
    );
    expect(lines.join('\n')).toMatch(/accuracy 99\.00% over 100 labelled images/);
  });
});
