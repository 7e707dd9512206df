import { describe, expect, it } from 'vitest';
import { jsonDepthError, moreValuesThan } from '../../../src/runtime/json-depth.ts';

const nested = (levels: number) => `${'['.repeat(levels)}0${']'.repeat(levels)}`;

describe('jsonDepthError', () => {
  it('accepts nesting up to the limit, however many brackets the text holds', () => {
    expect(jsonDepthError(nested(8), 8)).toBeUndefined();
    const wide = JSON.stringify({ strokes: Array.from({ length: 1000 }, () => [{ x: 1, y: [2] }]) });
    expect(jsonDepthError(wide, 5)).toBeUndefined();
    expect(jsonDepthError('{"a": 1, "b": [1, 2, 3]}', 2)).toBeUndefined();
  });

  it('refuses one level more, naming the innermost member that holds it', () => {
    expect(jsonDepthError(nested(9), 8)).toBe('body: JSON nested deeper than 8 levels (maxJsonDepth)');
    const v2 = `{"inputs":[{"name":"input","shape":[1],"datatype":"FP32","data":${nested(10_000)}}]}`;
    expect(jsonDepthError(v2, 64)).toBe('inputs[0].data: JSON nested deeper than 64 levels (maxJsonDepth)');
    const second = `{"instances":[{"pixels":[0]},{"strokes":${nested(10)}}]}`;
    expect(jsonDepthError(second, 8)).toMatch(/^instances\[1\]\.strokes: /);
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    const text = JSON.stringify({ name: `"\\${'['.repeat(100)}`, data: [[1]] });
    expect(jsonDepthError(text, 3)).toBeUndefined();
    expect(jsonDepthError(JSON.stringify({ 'odd key': [[[1]]] }), 3)).toBe(
      '["odd key"]: JSON nested deeper than 3 levels (maxJsonDepth)',
    );
  });

  it('refuses a text that never closes its brackets', () => {
    expect(jsonDepthError('['.repeat(16 * 1024 * 1024), 64)).toMatch(/^body: /);
    expect(jsonDepthError(`{"a":${'{"b":'.repeat(100)}`, 64)).toMatch(/^a(\.b)+: /);
  });
});

describe('moreValuesThan', () => {
  it('counts the commas outside strings, up to the limit', () => {
    const list = (n: number) => `[${Array.from({ length: n }, () => 1).join(',')}]`;
    expect(moreValuesThan(list(101), 100)).toBe(false); // 100 commas
    expect(moreValuesThan(list(102), 100)).toBe(true);
    // Commas inside strings (escaped quotes included) are not values.
    expect(moreValuesThan(`["${',\\",'.repeat(200)}", 1]`, 100)).toBe(false);
    expect(moreValuesThan(`{"a":"${','.repeat(500)}","b":[${list(150)}]}`, 100)).toBe(true);
  });
});
