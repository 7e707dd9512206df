import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../support/controlplane.ts';
import { dockerfileCopySources } from '../../support/node/images.ts';
import { pickNodeVersion } from '../../support/node/node-version.ts';

describe('the base image Node version', () => {
  const dockerfile = 'ARG NODE_IMAGE=node:22-bookworm-slim\nFROM node:22\n';
  const published = ['20.19.0', '22.9.0', '22.10.1', '22.2.0', '24.1.0', '22.10.0-rc.1'];

  it('is the exact version in .nvmrc when there is one', () => {
    expect(pickNodeVersion({ nvmrc: 'v24.21.0\n', dockerfile, published })).toBe('24.21.0');
  });

  it("is otherwise the newest release of the Dockerfile's major", () => {
    expect(pickNodeVersion({ dockerfile, published })).toBe('22.10.1');
  });

  it('names what is wrong with .nvmrc or the Dockerfile', () => {
    expect(() => pickNodeVersion({ nvmrc: 'lts/*', dockerfile, published })).toThrow(
      /^\.nvmrc: expected an exact/,
    );
    expect(() => pickNodeVersion({ dockerfile: 'FROM node', published })).toThrow(
      /^Dockerfile: no `ARG NODE_IMAGE/,
    );
    expect(() => pickNodeVersion({ dockerfile: 'ARG NODE_IMAGE=node:19-slim', published })).toThrow(
      /no published release of Node 19/,
    );
  });

  it("reads this repository's Dockerfile", async () => {
    const text = await readFile(join(repoRoot, 'Dockerfile'), 'utf8');
    expect(pickNodeVersion({ dockerfile: text, published: ['20.1.0', '22.1.0', '24.1.0'] })).toMatch(
      /^\d+\.1\.0$/,
    );
  });
});

describe('what the kinfer image is built from', () => {
  it('is every path the Dockerfile copies from the context, and the Dockerfile', async () => {
    const text = await readFile(join(repoRoot, 'Dockerfile'), 'utf8');
    expect(dockerfileCopySources(text)).toEqual(
      expect.arrayContaining([
        'Dockerfile',
        'package.json',
        'package-lock.json',
        'src',
        'bin',
        'models',
        'datasets',
      ]),
    );
  });

  it('ignores stage copies and flags', () => {
    const text = 'COPY --chown=1000:1000 a b ./\nCOPY --from=build /app/dist ./dist\nADD c/ /c\n';
    expect(dockerfileCopySources(text)).toEqual(['Dockerfile', 'a', 'b', 'c']);
  });
});
