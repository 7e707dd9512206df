// `npm ci` prints a warning for every dependency whose install script allowScripts does not cover
// (npm 11), and the Dockerfile and CI install with it: a new dependency with an install script
// must be reviewed and listed in package.json's allowScripts (true or false) first.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
const read = (path: string) => JSON.parse(readFileSync(join(root, path), 'utf8'));

it('every dependency with an install script is reviewed in allowScripts', () => {
  const lock = read('package-lock.json') as { packages: Record<string, { hasInstallScript?: boolean }> };
  const withScripts = Object.entries(lock.packages)
    .filter(([, entry]) => entry.hasInstallScript)
    .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
  expect(withScripts).toContain('onnxruntime-node');
  const reviewed = Object.keys(
    (read('package.json') as { allowScripts: Record<string, boolean> }).allowScripts,
  );
  expect(withScripts.filter((name) => !reviewed.includes(name))).toEqual([]);
});
