// `npm run crds`: writes the generated CRDs and the argocd-cm snippet; `npm run crds -- --check` exits 1 when they are stale.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderGeneratedFiles } from './render.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const check = process.argv.includes('--check');
let stale = 0;
for (const [path, text] of renderGeneratedFiles(root)) {
  const file = join(root, path);
  let current: string | undefined;
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === text) continue;
  stale++;
  if (check) {
    process.stderr.write(`stale: ${path}\n`);
  } else {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    process.stdout.write(`wrote ${path}\n`);
  }
}
if (check && stale > 0) {
  process.stderr.write('run `npm run crds` and commit the result\n');
  process.exit(1);
}
