import { describe, expect, it } from 'vitest';
import { loadRuntimeConfig } from '../../../src/runtime/config.ts';
import { semiSpaceGiven, semiSpaceReexec } from '../../../src/runtime/heap-flags.ts';

const node = {
  execPath: '/usr/bin/node',
  execArgv: [],
  argv: ['/usr/bin/node', '/app/bin/kinfer.js', 'runtime'],
};

describe('semiSpaceGiven', () => {
  it("finds V8's flag in Node's command line or NODE_OPTIONS, in either spelling", () => {
    expect(semiSpaceGiven(['--max-semi-space-size=32'])).toBe(true);
    expect(semiSpaceGiven(['--max_semi_space_size', '32'])).toBe(true);
    expect(semiSpaceGiven([], '--enable-source-maps  --max-semi-space-size=8')).toBe(true);
    expect(semiSpaceGiven(['--max-old-space-size=256'], '--enable-source-maps')).toBe(false);
    expect(semiSpaceGiven(['--max-semi-space-sizes=1'])).toBe(false);
  });
});

describe('semiSpaceReexec', () => {
  it('runs the same script and arguments again with the flag after Node options already given', () => {
    const tsx = { ...node, execArgv: ['--import', 'tsx'] };
    expect(semiSpaceReexec(16, tsx)).toEqual([
      '/usr/bin/node',
      '--import',
      'tsx',
      '--max-semi-space-size=16',
      '/app/bin/kinfer.js',
      'runtime',
    ]);
  });

  it('does nothing for 0 (V8 sizes it) or when Node was given the flag (also what ends the second run)', () => {
    expect(semiSpaceReexec(0, node)).toBeUndefined();
    expect(semiSpaceReexec(16, { ...node, execArgv: ['--max-semi-space-size=16'] })).toBeUndefined();
    expect(semiSpaceReexec(16, node, '--max-semi-space-size=4')).toBeUndefined();
    const again = semiSpaceReexec(16, node)!;
    expect(
      semiSpaceReexec(16, {
        execPath: again[0]!,
        execArgv: [again[1]!],
        argv: [again[0]!, ...again.slice(2)],
      }),
    ).toBeUndefined();
  });

  it('is a runtime setting with a default, 0 allowed, a bad value named', () => {
    expect(loadRuntimeConfig([], {}).maxSemiSpaceMb).toBe(16);
    expect(loadRuntimeConfig(['--max-semi-space-mb', '0'], {}).maxSemiSpaceMb).toBe(0);
    expect(loadRuntimeConfig([], { KINFER_MAX_SEMI_SPACE_MB: '64' }).maxSemiSpaceMb).toBe(64);
    expect(() => loadRuntimeConfig(['--max-semi-space-mb', '-1'], {})).toThrow(/--max-semi-space-mb/);
    expect(() => loadRuntimeConfig([], { KINFER_MAX_SEMI_SPACE_MB: 'lots' })).toThrow(
      /KINFER_MAX_SEMI_SPACE_MB/,
    );
  });
});
