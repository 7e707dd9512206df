import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundledModelPath, loadRuntimeConfig } from '../../../src/runtime/config.ts';
import { UsageError } from '../../../src/shared/options.ts';

const dir = mkdtempSync(join(tmpdir(), 'kinfer-config-'));
const yamlFile = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('loadRuntimeConfig', () => {
  it('has defaults that serve the bundled model on 0.0.0.0:8080', () => {
    const config = loadRuntimeConfig([], {});
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      model: bundledModelPath,
      modelName: 'mnist-cnn',
      maxV2Batch: 1024,
      corsOrigins: [],
      logLevel: 'info',
    });
    expect(config.bodyLimit).toBeGreaterThan(1024 * 784 * 20); // a full-precision 1,024-image V2 body
    expect(config.queueLimit).toBeGreaterThanOrEqual(config.maxV2Batch);
  });

  it('takes flags over environment over file', () => {
    const file = yamlFile('layers.yaml', 'port: 1000\nhost: 127.0.0.1\nworkers: 3\nmaxDelayMs: 7\n');
    const config = loadRuntimeConfig(
      ['--config', file, '--port', '3000', '--cors-origins', 'http://a, http://b'],
      {
        KINFER_PORT: '2000',
        KINFER_WORKERS: '4',
      },
    );
    expect(config).toMatchObject({
      port: 3000,
      workers: 4,
      host: '127.0.0.1',
      maxDelayMs: 7,
      corsOrigins: ['http://a', 'http://b'],
    });
  });

  it('accepts the CRD spelling of batching in the file', () => {
    const file = yamlFile('crd.yaml', 'batching:\n  maxBatchSize: 16\n  maxDelayMs: 1\ncorsOrigins: ["*"]\n');
    const config = loadRuntimeConfig(['--config', file], {});
    expect(config).toMatchObject({ maxBatchSize: 16, maxDelayMs: 1, corsOrigins: ['*'] });
    expect(config).not.toHaveProperty('batching');
  });

  const bad: [string, string[], Record<string, string>, RegExp][] = [
    ['a non-numeric port flag', ['--port', 'http'], {}, /^--port: /],
    ['a port out of range from the environment', [], { KINFER_PORT: '70000' }, /^KINFER_PORT: /],
    ['a bad sha256', ['--sha256', 'abc'], {}, /--sha256: must be 64 hex digits/],
    ['an unknown log level', [], { KINFER_LOG_LEVEL: 'loud' }, /KINFER_LOG_LEVEL/],
    ['a zero batch size', ['--max-batch-size', '0'], {}, /--max-batch-size/],
    [
      'a queue smaller than the largest request',
      ['--queue-limit', '10'],
      {},
      /--queue-limit: must be at least maxV2Batch/,
    ],
    [
      'a preprocessing queue too small to parse the largest body off the event loop',
      [
        ...['--max-image-pixels', '784', '--max-points-per-request', '1', '--max-v2-batch', '1'],
        ...['--queue-limit', '1', '--preprocess-queue-limit', '10000'],
      ],
      {},
      /--preprocess-queue-limit: must be at least bodyLimit \/ 64 \(524288 here\): parsing the largest JSON body/,
    ],
    ['an unknown flag', ['--prot', '1'], {}, /prot/],
    ['a stray argument', ['serve'], {}, /unexpected argument "serve"/],
  ];
  it.each(bad)('names the setting for %s', (_name, argv, env, message) => {
    expect(() => loadRuntimeConfig(argv, env)).toThrow(UsageError);
    expect(() => loadRuntimeConfig(argv, env)).toThrow(message);
  });

  it('names the file and the key for a bad setting in the file', () => {
    const file = yamlFile('bad.yaml', 'workers: many\n');
    expect(() => loadRuntimeConfig(['--config', file], {})).toThrow(`${file}: workers: `);
    const unknown = yamlFile('unknown.yaml', 'prot: 80\n');
    expect(() => loadRuntimeConfig(['--config', unknown], {})).toThrow(`${unknown}: prot: unknown setting`);
    const list = yamlFile('list.yaml', '- 1\n- 2\n');
    expect(() => loadRuntimeConfig(['--config', list], {})).toThrow('expected a mapping');
    expect(() => loadRuntimeConfig(['--config', join(dir, 'missing.yaml')], {})).toThrow(
      /--config: cannot read/,
    );
  });
});
