import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, expect, it } from 'vitest';
import { loadInput } from '../../../src/jobs/input/load.ts';
import { JobRunner } from '../../../src/jobs/runner.ts';
import { buildJobServer } from '../../../src/jobs/server.ts';
import { startTestRuntime } from './helpers.ts';

// The demo page's Jobs view in Debian's Chromium (installed by .ci/run): opened with ?job=<preview
// endpoint>, it shows the job's progress, the digit mosaic and the summary.
const chromiumPath = '/usr/bin/chromium';
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

it('follows a job live: progress, mosaic with labels, summary', async () => {
  if (!existsSync(chromiumPath))
    throw new Error(`${chromiumPath} not found: apt-get install chromium (.ci/run does)`);
  const runtime = await startTestRuntime();
  cleanups.push(() => runtime.close());
  const runner = new JobRunner({
    name: 'page',
    namespace: 'test',
    spec: { batchSize: 16, previewIntervalMs: 200 },
    concurrency: 1,
  });
  const app = buildJobServer(runner);
  await app.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(() => app.close());
  const endpoint = `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/ws/jobs/page`;

  const profile = mkdtempSync(join(tmpdir(), 'kinfer-chromium-'));
  cleanups.push(async () => rmSync(profile, { recursive: true, force: true }));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    viewport: { width: 800, height: 900 },
  });
  cleanups.push(() => context.close());
  const page = await context.newPage();
  await page.goto(`${runtime.url}/?job=${encodeURIComponent(endpoint)}`);
  await page.waitForSelector('#jobs:not([hidden])');

  const run = runner.run(async () => ({
    input: await loadInput({ dataset: 'mnist-test', limit: 3000 }),
    modelEndpoint: runtime.infer,
  }));
  await page.waitForFunction(() =>
    /\d+ \/ 3000/.test(document.getElementById('job-progress')?.textContent ?? ''),
  );
  expect(await run).toBe('Succeeded');
  await page.waitForFunction(() =>
    (document.getElementById('job-summary')?.textContent ?? '').includes('accuracy'),
  );

  expect(await page.textContent('#job-progress')).toBe('3000 / 3000 (100%)');
  expect(await page.textContent('#job-summary')).toMatch(/accuracy 99\.\d\d%/);
  const labels = await page.$$eval('#job-labels span', (spans) => spans.map((s) => Number(s.textContent)));
  expect(labels).toHaveLength(64);
  // The mosaic is drawn: a good share of its pixels is ink.
  const ink = await page.$eval('#job-mosaic', (canvas) => {
    const c = canvas as HTMLCanvasElement;
    const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let lit = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i]! > 128) lit++;
    return { lit, width: c.width, height: c.height };
  });
  expect([ink.width, ink.height]).toEqual([224, 224]);
  expect(ink.lit).toBeGreaterThan(224 * 224 * 0.05);
  mkdirSync('test-results', { recursive: true });
  await page.screenshot({ path: 'test-results/jobs-view.png' });
});
