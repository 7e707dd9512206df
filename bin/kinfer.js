#!/usr/bin/env node
// In a clone the TypeScript sources run directly through tsx; the container image ships only the
// compiled dist/ (no src/), so the same entrypoint serves both.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import(new URL('../dist/cli/main.js', import.meta.url).href);
}
