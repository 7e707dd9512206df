import { readFile } from 'node:fs/promises';
import type { JobInput } from '../../api/inferencejob.ts';
import { loadMnistTest } from '../../datasets/idx.ts';
import { JobFailure } from '../errors.ts';
import { decodeInlineImages, decodeInput } from './decode.ts';
import { syntheticDigits } from './synthetic.ts';
import { applyLimit, arrayInput, type LoadedInput } from './types.ts';

export interface InputSources {
  /** A file holding the ConfigMap key's bytes: the operator mounts the ConfigMap into the pod. */
  inputFile?: string;
  /** Reads the ConfigMap key through the API: for runs outside a pod. */
  readConfigMap?: (name: string, key: string) => Promise<Buffer>;
}

/** Loads `spec.input` into N 28x28 uint8 images (and labels where the source has them), limit applied. */
export async function loadInput(input: JobInput, sources: InputSources = {}): Promise<LoadedInput> {
  if (input.dataset) {
    const dataset = await loadMnistTest().catch((error: unknown) => {
      throw new JobFailure('input_unavailable', `dataset ${input.dataset}: ${(error as Error).message}`);
    });
    return applyLimit(arrayInput(dataset.images, dataset.count, dataset.labels), input.limit);
  }
  if (input.synthetic) {
    return syntheticDigits(
      Math.min(input.synthetic.count, input.limit ?? Number.POSITIVE_INFINITY),
      input.synthetic.seed,
    );
  }
  if (input.inline) return applyLimit(decodeInlineImages(input.inline.images), input.limit);
  if (input.configMap) {
    const { name, key, format } = input.configMap;
    const source = `configMap ${name} key ${key}`;
    let bytes: Buffer;
    try {
      if (sources.inputFile) bytes = await readFile(sources.inputFile);
      else if (sources.readConfigMap) bytes = await sources.readConfigMap(name, key);
      else throw new Error('no input file and no API access to read it');
    } catch (error) {
      if (error instanceof JobFailure) throw error;
      throw new JobFailure('input_unavailable', `${source}: ${(error as Error).message}`);
    }
    return applyLimit(decodeInput(bytes, format, source), input.limit);
  }
  throw new JobFailure(
    'input_invalid',
    'input: exactly one of dataset, configMap, inline or synthetic must be set',
  );
}
