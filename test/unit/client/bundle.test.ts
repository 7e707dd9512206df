import { expect, it } from 'vitest';
import { bundleDemoPage } from '../../../src/web/bundle.ts';

it('bundles the demo page into one small HTML document with the browser client inlined', async () => {
  const html = await bundleDemoPage();
  expect(html).toMatch(/^<!doctype html>/);
  expect(html).not.toContain('/*BUNDLE*/');
  expect(html).toContain('<canvas id="canvas" width="280" height="280"');
  // The client without zod (the schemas stay on the server): a few KiB, not hundreds.
  expect(html.length).toBeLessThan(40 * 1024);
  expect(html).not.toMatch(/ZodError|zod/i);
  // The protocol constants come from the shared module, not copies.
  expect(html).toContain('bearer.');
  expect(html).toContain('kinfer');
});
