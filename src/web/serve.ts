import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '../log.ts';

/**
 * `GET /`: the demo page. The compiled runtime (dist/, the container image) serves the page built
 * next to it by `npm run build:web`; from the sources it is bundled with esbuild once, in memory,
 * when the server starts, so `npm ci && npm start` needs no build step.
 */
export async function demoPagePlugin(app: FastifyInstance): Promise<void> {
  const log = createLogger('runtime.web');
  const page = loadPage().then(
    (html) => {
      log.debug({ event: 'web.page_ready', bytes: html.length }, 'demo page ready');
      return html;
    },
    (error: Error) => {
      log.error({ event: 'web.page_failed', err: error }, 'cannot build the demo page');
      throw error;
    },
  );
  page.catch(() => {}); // reported above and on every request

  app.get('/', { schema: { hide: true } as Record<string, unknown> }, async (_request, reply) => {
    let html: string;
    try {
      html = await page;
    } catch {
      return reply.code(503).send({ error: 'the demo page is not available (see the server log)' });
    }
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(html);
  });
}

async function loadPage(): Promise<string> {
  const started = performance.now();
  try {
    return await readFile(new URL('./index.html', import.meta.url), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const { bundleDemoPage } = await import('./bundle.ts');
  const html = await bundleDemoPage();
  createLogger('runtime.web').info(
    { event: 'web.page_bundled', elapsedMs: Math.round(performance.now() - started), bytes: html.length },
    'demo page bundled from the sources',
  );
  return html;
}
