import { Worker } from 'node:worker_threads';

/**
 * A worker thread running the module `name` (without extension) next to `base` (the caller's
 * `import.meta.url`). From the compiled dist the module is plain .js. From sources (tsx, vitest)
 * it is a .ts file: Node's own type stripping takes only erasable syntax and the sources are
 * written for tsx, so a tiny eval'd bootstrap registers tsx's loader inside the worker first and
 * then imports it.
 */
export function startThread(base: string, name: string, workerData: unknown): Worker {
  const fromSources = base.endsWith('.ts');
  const url = new URL(`./${name}.${fromSources ? 'ts' : 'js'}`, base);
  if (!fromSources) return new Worker(url, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}
