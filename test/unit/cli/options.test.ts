import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { booleanFlag, envName, parseOptions, UsageError } from '../../../src/shared/options.ts';

const schema = z.object({
  port: z.coerce.number().int().min(1).max(65535).default(8080),
  host: z.string().default('0.0.0.0'),
  leaderElect: booleanFlag().default(false),
});

describe('parseOptions', () => {
  it('uses defaults when nothing is set', () => {
    expect(parseOptions(schema, [], {}).options).toEqual({ port: 8080, host: '0.0.0.0', leaderElect: false });
  });

  it('reads KINFER_<FLAG> from the environment and lets flags win', () => {
    const env = { KINFER_PORT: '9000', KINFER_LEADER_ELECT: 'true' };
    expect(parseOptions(schema, [], env).options).toMatchObject({ port: 9000, leaderElect: true });
    expect(parseOptions(schema, ['--port', '9100'], env).options.port).toBe(9100);
  });

  it('names the flag or variable that is wrong', () => {
    expect(() => parseOptions(schema, ['--port', 'eighty'], {})).toThrow(/--port/);
    expect(() => parseOptions(schema, [], { KINFER_PORT: '70000' })).toThrow(/KINFER_PORT/);
    expect(() => parseOptions(schema, ['--nope'], {})).toThrow(UsageError);
  });

  it('says when a variable is a Kubernetes service link rather than a setting', () => {
    const env = { KINFER_PORT: 'tcp://198.19.0.12:80' };
    expect(() => parseOptions(schema, [], env)).toThrow(
      /^KINFER_PORT: .*got "tcp:\/\/198\.19\.0\.12:80".*service link.*enableServiceLinks: false/,
    );
    expect(() => parseOptions(schema, [], { KINFER_PORT: 'eighty' })).not.toThrow(/service link/);
  });

  it('spells environment names from camelCase keys', () => {
    expect(envName('maxConnections')).toBe('KINFER_MAX_CONNECTIONS');
  });
});
