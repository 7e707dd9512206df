import { describe, expect, it } from 'vitest';
import { compareQuantities, quantityValue } from '../../../src/api/quantity.ts';

// Quantities compared by value, as the apiserver's CEL quantity library compares them, so that the
// zod twin of a CRD rule rejects exactly what the apiserver rejects.
describe('Kubernetes quantities', () => {
  it.each([
    ['1Gi', '1024Mi', 0],
    ['1G', '1000M', 0],
    ['1Gi', '1G', 1],
    ['500m', '0.5', 0],
    ['0.5', '.5', 0],
    ['1500m', 1, 1],
    [2, '2000m', 0],
    ['2e3', '2k', 0],
    ['1E', '1e18', 0],
    ['100n', '0.1u', 0],
    ['128Mi', '512Mi', -1],
    ['-1', '0', -1],
    ['1.5Gi', '1536Mi', 0],
  ] as const)('%s against %s: %i', (a, b, expected) => {
    expect(compareQuantities(a, b)).toBe(expected);
    expect(compareQuantities(b, a)).toBe(-expected || 0);
  });

  it('is exact where floating point is not', () => {
    expect(compareQuantities('9007199254740993', '9007199254740992')).toBe(1);
    expect(compareQuantities('0.3', '0.1')).toBe(1);
    expect(quantityValue('0.30')).toEqual({ num: 30n, den: 100n });
  });

  it('knows no value for what is no quantity', () => {
    for (const text of ['', 'lots', '64 MB', '1.5e3.2', '1Kb', 'Mi', '1e']) {
      expect(quantityValue(text), text).toBeUndefined();
    }
    expect(compareQuantities('lots', '1')).toBeUndefined();
  });
});
