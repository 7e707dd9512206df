import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { OperatorOptionsSchema } from '../../../src/cli/commands/operator.ts';
import { DEFAULT_IMAGE } from '../../../src/operator/defaults.ts';
import { defaultRunnerConfig } from '../../../src/operator/inferencejob/desired.ts';
import { defaultPredictorConfig } from '../../../src/operator/modeldeployment/desired.ts';

const read = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');

describe('the default image', () => {
  it('is one value for predictors, job runners and the kinfer operator flag', () => {
    expect(defaultPredictorConfig.image).toBe(DEFAULT_IMAGE);
    expect(defaultRunnerConfig.image).toBe(DEFAULT_IMAGE);
    expect(OperatorOptionsSchema.parse({}).image).toBe(DEFAULT_IMAGE);
  });

  it('is the image config/manager deploys and the chart defaults to', () => {
    const manager = parseAllDocuments(read('config/manager/manager.yaml'))
      .map((doc) => doc.toJS())
      .find((doc) => doc?.kind === 'Deployment');
    const operator = manager.spec.template.spec.containers[0];
    expect(operator.image).toBe(DEFAULT_IMAGE);
    const values = parse(read('charts/kinfer/values.yaml'));
    const chart = parse(read('charts/kinfer/Chart.yaml'));
    expect(`${values.image.repository}:${values.image.tag || chart.appVersion}`).toBe(DEFAULT_IMAGE);
  });
});
