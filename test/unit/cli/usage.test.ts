import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type CommandHelp, commandUsage, settingsOf, wrap } from '../../../src/cli/usage.ts';
import { booleanFlag } from '../../../src/shared/options.ts';

const help: CommandHelp = {
  synopsis: 'NAME [flags]',
  about: 'Does one thing.',
  settings: z.object({
    port: z.coerce.number().int().min(0).max(65535).default(8080).describe('TCP port to listen on'),
    leaderElect: booleanFlag().default(false).describe('take part in leader election'),
    name: z.string().min(1).describe('what to act on'),
    token: z.string().optional().describe('bearer token'),
    pullPolicy: z.enum(['Always', 'Never']).default('Never').describe('when to pull'),
    namespaces: z
      .string()
      .default('')
      .transform((value) => value.split(','))
      .pipe(z.array(z.string()))
      .describe('comma-separated; empty: every namespace'),
    endpoint: z.url().optional().describe('where to send'),
  }),
  aliases: { '-n': 'name' },
};

describe('commandUsage', () => {
  it('lists every setting as its flag, its variable, its default and its description', () => {
    expect(commandUsage('thing', help)).toBe(
      [
        'Usage: kinfer thing NAME [flags]',
        '',
        'Does one thing.',
        '',
        'Flags (each also read from the KINFER_ variable shown; a flag wins over it):',
        '  --port <int>  KINFER_PORT  default 8080',
        '      TCP port to listen on',
        '  --leader-elect  KINFER_LEADER_ELECT  default false',
        '      take part in leader election',
        '  -n, --name <string>  KINFER_NAME  required',
        '      what to act on',
        '  --token <string>  KINFER_TOKEN  unset',
        '      bearer token',
        '  --pull-policy <Always|Never>  KINFER_PULL_POLICY  default Never',
        '      when to pull',
        '  --namespaces <string>  KINFER_NAMESPACES  default ""',
        '      comma-separated; empty: every namespace',
        '  --endpoint <url>  KINFER_ENDPOINT  unset',
        '      where to send',
        '',
      ].join('\n'),
    );
  });

  it('wraps long descriptions and the about text to 80 columns', () => {
    const long = 'word '.repeat(40).trim();
    const text = commandUsage('thing', {
      synopsis: '[flags]',
      about: long,
      settings: z.object({ size: z.coerce.number().default(1).describe(long) }),
    });
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    expect(text.split('\n').filter((line) => line.startsWith('      word')).length).toBeGreaterThan(1);
    expect(text.replace(/\s+/g, ' ')).toContain(long);
  });

  it('refuses a setting without a description rather than print an empty line', () => {
    const undescribed = { ...help, settings: z.object({ port: z.coerce.number().default(1) }) };
    expect(() => commandUsage('thing', undescribed)).toThrow(/thing: --port has no description/);
  });
});

describe('settingsOf', () => {
  it('reads the default a value is given before any transform, and whether it is required', () => {
    const byFlag = Object.fromEntries(settingsOf(help.settings).map((s) => [s.flag, s]));
    expect(byFlag['--namespaces']).toMatchObject({
      env: 'KINFER_NAMESPACES',
      value: '<string>',
      default: 'default ""',
    });
    expect(byFlag['--leader-elect']).toMatchObject({ value: '', default: 'default false' });
    expect(byFlag['--name']?.default).toBe('required');
    expect(byFlag['--token']?.default).toBe('unset');
  });
});

describe('wrap', () => {
  it('breaks between words and keeps a word longer than the width whole', () => {
    expect(wrap('aa bb cc', 5, '')).toEqual(['aa bb', 'cc']);
    expect(wrap('abcdefgh ij', 4, '  ')).toEqual(['  abcdefgh', '  ij']);
  });
});
