import { describe, expect, it } from 'vitest';
import { inferenceJobSettings, OperatorOptionsSchema } from '../../../src/cli/commands/operator.ts';
import { defaultRunnerUrlTemplate } from '../../../src/operator/inferencejob/runner-client.ts';
import { parseOptions } from '../../../src/shared/options.ts';

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
  parseOptions(OperatorOptionsSchema, argv, env).options;

describe('kinfer operator job-runner settings', () => {
  it('default to in-cluster DNS and a 30 s linger', () => {
    expect(inferenceJobSettings(parse([]))).toEqual({
      runnerAccess: { kind: 'url', template: defaultRunnerUrlTemplate },
      runner: { lingerSeconds: 30 },
    });
  });

  it('are flags, and KINFER_<FLAG> environment variables; the flag wins', () => {
    expect(
      inferenceJobSettings(parse(['--job-runner-url', 'apiserver-proxy', '--job-linger-seconds', '5'])),
    ).toEqual({
      runnerAccess: { kind: 'apiserver-proxy' },
      runner: { lingerSeconds: 5 },
    });
    const env = { KINFER_JOB_RUNNER_URL: 'http://127.0.0.1:{port}/{name}', KINFER_JOB_LINGER_SECONDS: '0' };
    expect(inferenceJobSettings(parse([], env))).toEqual({
      runnerAccess: { kind: 'url', template: 'http://127.0.0.1:{port}/{name}' },
      runner: { lingerSeconds: 0 },
    });
    expect(inferenceJobSettings(parse(['--job-runner-url', 'apiserver-proxy'], env)).runnerAccess).toEqual({
      kind: 'apiserver-proxy',
    });
  });

  it('fail naming the flag or the variable', () => {
    expect(() => parse(['--job-runner-url', 'not a url'])).toThrow(
      /--job-runner-url: .*neither "apiserver-proxy" nor a URL/,
    );
    expect(() => parse([], { KINFER_JOB_RUNNER_URL: 'nope' })).toThrow(/KINFER_JOB_RUNNER_URL: /);
    expect(() => parse(['--job-linger-seconds', '4000'])).toThrow(/--job-linger-seconds: /);
    expect(() => parse([], { KINFER_JOB_LINGER_SECONDS: 'soon' })).toThrow(/KINFER_JOB_LINGER_SECONDS: /);
  });
});
