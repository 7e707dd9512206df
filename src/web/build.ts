import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { bundleDemoPage } from './bundle.ts';

/**
 * `npm run build:web`: writes the demo page to `dist/web/index.html`, where the compiled runtime
 * (the container image, which has no sources and no esbuild) serves it from.
 */
const out = resolve(process.argv[2] ?? 'dist/web/index.html');
const started = performance.now();
const html = await bundleDemoPage();
await mkdir(dirname(out), { recursive: true });
await writeFile(out, html);
process.stdout.write(
  `demo page: ${out} (${(html.length / 1024).toFixed(1)} KiB, ${Math.round(performance.now() - started)} ms)\n`,
);
