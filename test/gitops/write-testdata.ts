// `npm run gitops:testdata`: rewrites argocd/resource_customizations/kinfer.dev/*/testdata and
// health_test.yaml from the judged objects, removing testdata files no object stands for.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { customizationsDir, renderTestdata } from './testdata.ts';

const root = resolve(import.meta.dirname, '../..');
const files = renderTestdata();
for (const [path, text] of files) {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}
for (const kind of readdirSync(join(root, customizationsDir))) {
  const dir = `${customizationsDir}/${kind}/testdata`;
  for (const file of readdirSync(join(root, dir))) {
    if (!files.has(`${dir}/${file}`)) rmSync(join(root, dir, file));
  }
}
process.stdout.write(`wrote ${files.size} files under ${customizationsDir}\n`);
