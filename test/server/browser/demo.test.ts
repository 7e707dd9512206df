import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from '../ws/harness.ts';

// The demo page in Debian's Chromium (installed by .ci/run): draw a digit with the mouse, watch
// the live prediction, submit, and survive a server restart. Screenshots go to test-results/.

const chromiumPath = '/usr/bin/chromium';
const flags = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let runtime: TestRuntime;
let context: BrowserContext;
let profile: string;

beforeAll(async () => {
  // Fail loudly (not skip) when the browser is missing: CI installs it.
  if (!existsSync(chromiumPath))
    throw new Error(`${chromiumPath} not found: apt-get install chromium (.ci/run does)`);
  runtime = await startTestRuntime();
  profile = mkdtempSync(join(tmpdir(), 'kinfer-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: flags,
    viewport: { width: 800, height: 600 },
  });
  mkdirSync('test-results', { recursive: true });
});

afterAll(async () => {
  await context?.close();
  if (runtime) await runtime.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** A "7" in canvas coordinates (280x280): the bar, then the stem. */
const seven = [
  [
    [60, 60],
    [215, 60],
  ],
  [
    [215, 60],
    [175, 140],
    [140, 230],
  ],
];

async function draw(page: Page, strokes: number[][][]): Promise<void> {
  const box = await page.locator('#canvas').boundingBox();
  if (!box) throw new Error('canvas not visible');
  const at = ([x, y]: number[]) =>
    [box.x + ((x ?? 0) * box.width) / 280, box.y + ((y ?? 0) * box.height) / 280] as const;
  for (const stroke of strokes) {
    const [first, ...rest] = stroke;
    await page.mouse.move(...at(first ?? [0, 0]));
    await page.mouse.down();
    for (const point of rest) await page.mouse.move(...at(point), { steps: 12 });
    await page.mouse.up();
  }
}

it('draws a digit with the mouse and shows the prediction, live and on submit', async () => {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(runtime.url);
  await page.locator('#status[data-state="open"]').waitFor();
  expect(await page.locator('#model-name').textContent()).toBe('mnist-cnn');
  expect(await page.locator('#model-sha256').textContent()).toBe(runtime.predictor.model.sha256);

  await draw(page, seven);
  // Live predictions arrive while drawing, before any submit.
  await page.locator('#prediction[data-live="true"]').waitFor();
  await page.locator('#submit').click();
  await page.locator('#prediction[data-live="false"]').waitFor();
  await page.screenshot({ path: 'test-results/demo-page-seven.png' });
  expect(await page.locator('#prediction').getAttribute('data-prediction')).toBe('7');
  expect(await page.locator('#prediction').textContent()).toBe('7');
  // Ten bars, the predicted one highlighted.
  expect(await page.locator('#bars .bar').count()).toBe(10);
  expect(await page.locator('#bars .bar.best').count()).toBe(1);

  await page.locator('#clear').click();
  expect(await page.locator('#prediction').textContent()).toBe('');
  await draw(page, [
    [
      [140, 40],
      [138, 150],
      [136, 250],
    ],
  ]);
  await page.locator('#submit').click();
  await page.locator('#prediction[data-live="false"]').waitFor();
  expect(await page.locator('#prediction').getAttribute('data-prediction')).toBe('1');
  expect(errors).toEqual([]);
  await page.close();
});

it('draws with touch too (pointer events from a touchscreen)', async () => {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Emulation.setTouchEmulationEnabled', { enabled: true, maxTouchPoints: 1 });
  await page.goto(runtime.url);
  await page.locator('#status[data-state="open"]').waitFor();
  const box = await page.locator('#canvas').boundingBox();
  if (!box) throw new Error('canvas not visible');
  const at = (x: number, y: number) => [
    { x: box.x + (x * box.width) / 280, y: box.y + (y * box.height) / 280 },
  ];
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: at(140, 40) });
  for (let y = 50; y <= 250; y += 10) {
    await cdp.send('Input.dispatchTouchEvent', {
      type: 'touchMove',
      touchPoints: at(140 - (y - 40) / 50, y),
    });
  }
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  await page.locator('#prediction[data-live="true"]').waitFor();
  await page.locator('#submit').click();
  await page.locator('#prediction[data-live="false"]').waitFor();
  await page.screenshot({ path: 'test-results/demo-page-touch.png' });
  expect(await page.locator('#prediction').getAttribute('data-prediction')).toBe('1');
  await page.close();
});

it('reconnects by itself after a server restart and keeps the drawing', async () => {
  const page = await context.newPage();
  await page.goto(runtime.url);
  await page.locator('#status[data-state="open"]').waitFor();
  await draw(page, seven);
  await page.locator('#prediction[data-live="true"]').waitFor();

  // Restart the runtime on the same port: the page gets 1001, backs off and reconnects.
  const port = Number(new URL(runtime.url).port);
  await runtime.close();
  await page.locator('#status[data-state="reconnecting"]').waitFor();
  runtime = await startTestRuntime({ port });
  await page.locator('#status[data-state="open"]').waitFor({ timeout: 20_000 });
  // The strokes were replayed on the new session: submit predicts the same drawing.
  await page.locator('#submit').click();
  await page.locator('#prediction[data-live="false"]').waitFor();
  await page.screenshot({ path: 'test-results/demo-page-reconnected.png' });
  expect(await page.locator('#prediction').getAttribute('data-prediction')).toBe('7');
  await page.close();
});

it('authenticates from the browser with ?token= (sent as a WebSocket subprotocol), refused without', async () => {
  const token = 'browser-token';
  const secured = await startTestRuntime({ token });
  try {
    const page = await context.newPage();
    await page.goto(`${secured.url}/?token=${token}`);
    await page.locator('#status[data-state="open"]').waitFor();
    await draw(page, seven);
    await page.locator('#submit').click();
    await page.locator('#prediction[data-live="false"]').waitFor();
    expect(await page.locator('#prediction').getAttribute('data-prediction')).toBe('7');
    // Without the token the page loads (it holds nothing) but its session is refused with 1008, for good.
    await page.goto(secured.url);
    await page.locator('#status[data-state="closed"]').waitFor();
    await page.close();
  } finally {
    await secured.close();
  }
});
