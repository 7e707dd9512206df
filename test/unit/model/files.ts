import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type BuiltinModel, builtinModels } from '../../../src/api/modeldeployment.ts';

/** The committed models, their checksum files and cards (paths from the repository root, not cwd). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const modelsDir = `${repoRoot}models/`;
export const modelDir = (name: BuiltinModel) => `${modelsDir}${name}/`;
export const modelPath = (name: BuiltinModel) => `${modelDir(name)}model.onnx`;
export const datasetDir = fileURLToPath(new URL('../../../datasets/mnist-test/', import.meta.url));

/** Every builtin model the API accepts; models/ holds exactly these (checked in checksums.test.ts). */
export const models: readonly BuiltinModel[] = builtinModels;
export const committedModelDirs = () =>
  readdirSync(modelsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();

/**
 * The least top-1 accuracy each model must reach on the 10,000 MNIST test digits. mnist-small's
 * is the number it was made for (issue 15): at least as cheap to run four times over, not worse.
 */
export const accuracyFloor: Record<BuiltinModel, number> = { 'mnist-cnn': 0.992, 'mnist-small': 0.995 };
