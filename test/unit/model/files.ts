import { fileURLToPath } from 'node:url';

/** The committed model, its checksum file and card (paths from the repository root, not cwd). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const modelDir = fileURLToPath(new URL('../../../models/mnist-cnn/', import.meta.url));
export const modelPath = `${modelDir}model.onnx`;
export const datasetDir = fileURLToPath(new URL('../../../datasets/mnist-test/', import.meta.url));
