import { describe, expect, it } from 'vitest';
import { decodeBase64, toPrediction } from '../../../src/runtime/http/predict.ts';
import { firstNonFinite, flattenTensorData } from '../../../src/runtime/http/tensor.ts';
import { jsonResponse } from '../../../src/runtime/http/v2-binary.ts';

describe('flattenTensorData', () => {
  it('reads flat and nested data alike, row-major', () => {
    const flat = flattenTensorData([1, 2, 3, 4, 5, 6], 6, 'data');
    expect(Array.from(flat)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(flattenTensorData([[[1, 2], [3]], [[4, 5, 6]]], 6, 'data')).toEqual(flat);
  });

  it('names the field and index of what is wrong', () => {
    expect(() => flattenTensorData([1, 2], 3, 'inputs[0].data')).toThrow(
      'inputs[0].data: expected 3 values to match the shape, got 2',
    );
    expect(() => flattenTensorData([1, 2, 3, 4], 3, 'inputs[0].data')).toThrow(/got 4/);
    expect(() => flattenTensorData([[1], [2, 'x']], 3, 'd')).toThrow(
      'd[2]: expected a number or a nested array, got "x"',
    );
    expect(() => flattenTensorData([1, null], 2, 'd')).toThrow(
      'd[1]: expected a number or a nested array, got null',
    );
    expect(() => flattenTensorData([1, Number.POSITIVE_INFINITY], 2, 'd')).toThrow(
      'd[1]: expected a finite FP32 number',
    );
    expect(() => flattenTensorData('abc', 2, 'd')).toThrow(/d\[0\]/);
  });
});

describe('firstNonFinite', () => {
  it('finds the first NaN or infinity, -1 when every value is finite', () => {
    expect(firstNonFinite(Float32Array.from([0, -0, 1, -3.4e38, 1e-45]))).toBe(-1);
    expect(firstNonFinite(Float32Array.from([0, 1, Number.NaN, Number.POSITIVE_INFINITY]))).toBe(2);
    expect(firstNonFinite(Float32Array.from([Number.NEGATIVE_INFINITY]))).toBe(0);
    expect(firstNonFinite(Float32Array.from([5, 6, Number.POSITIVE_INFINITY]).subarray(1))).toBe(1);
  });
});

describe('predict helpers', () => {
  it('decodes base64 with or without a data URL prefix and refuses other text', () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
    expect(decodeBase64(png.toString('base64'))).toEqual(png);
    expect(decodeBase64(`data:image/png;base64,${png.toString('base64')}`)).toEqual(png);
    expect(() => decodeBase64('not base64!')).toThrow(/image: not base64/);
  });

  it('picks the most probable class', () => {
    const p = toPrediction(Float32Array.from([0.1, 0.05, 0.6, 0.25, 0, 0, 0, 0, 0, 0]));
    expect(p.prediction).toBe(2);
    expect(p.confidence).toBeCloseTo(0.6);
    expect(p.probabilities).toHaveLength(10);
    expect(p).not.toHaveProperty('blank');
  });

  it('marks an image without ink as blank', () => {
    const probabilities = Float32Array.from([0.1, 0.9, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(toPrediction(probabilities, new Float32Array(784)).blank).toBe(true);
    const ink = new Float32Array(784);
    ink[400] = 0.5;
    expect(toPrediction(probabilities, ink)).not.toHaveProperty('blank');
  });
});

describe('jsonResponse', () => {
  it('writes exactly what JSON.stringify writes with the numbers in an array', () => {
    const values = [0, -0, 1, 0.1, 1 / 3, 1e-45, 3.4e38, 1e-7, 123456.789, -2.5e-12];
    let seed = 3;
    for (let i = 0; i < 990; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      values.push((seed / 0x7fffffff) * 10 ** ((seed % 40) - 20));
    }
    const tensor = Float32Array.from(values);
    const head = { model_name: 'm', model_version: '1', id: 'a"b' };
    const output = { name: 'p', datatype: 'FP32', shape: [100, 10] };
    expect(jsonResponse({ ...head, outputs: [{ ...output, data: [] }] }, tensor)).toBe(
      JSON.stringify({ ...head, outputs: [{ ...output, data: Array.from(tensor) }] }),
    );
  });
});
