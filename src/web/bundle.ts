import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/**
 * The demo page as one self-contained HTML document: `page.html` with the esbuild bundle of
 * `main.ts` (client, schemas and all) inlined, so the page is a single request.
 */
export async function bundleDemoPage(): Promise<string> {
  // esbuild is a build-time tool: loaded only when the page is built from the sources.
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(new URL('./main.ts', import.meta.url))],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const js = result.outputFiles[0]?.text ?? '';
  const template = await readFile(new URL('./page.html', import.meta.url), 'utf8');
  // `</script` cannot appear inside an inline script; esbuild escapes it in strings, this is a guard.
  return template.replace('/*BUNDLE*/', () => js.replace(/<\/script/gi, '<\\/script'));
}
