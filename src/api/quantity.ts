// Kubernetes resource quantities ("500m", "1.5Gi", "2e3", 4) as exact fractions, to compare two of
// them as the apiserver's CEL `quantity(a).compareTo(quantity(b))` does.

const binary: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const decimal: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const syntax =
  /^([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([numkMGTPE]?)|[eE]([+-]?[0-9]+))$/;

interface Fraction {
  num: bigint;
  den: bigint;
}

/** The exact value of a quantity, or undefined when it is not one Kubernetes parses. */
export function quantityValue(quantity: string | number): Fraction | undefined {
  const match = syntax.exec(String(quantity));
  if (!match) return undefined;
  const [, sign, number = '', binarySuffix, decimalSuffix, exponent] = match;
  const [whole = '', fraction = ''] = number.split('.');
  let num = BigInt(`${sign === '-' ? '-' : ''}${whole || '0'}${fraction}`);
  let den = 10n ** BigInt(fraction.length);
  if (binarySuffix) {
    num *= 2n ** BigInt(binary[binarySuffix] ?? 0);
  } else {
    const power = exponent !== undefined ? Number(exponent) : (decimal[decimalSuffix ?? ''] ?? 0);
    if (power >= 0) num *= 10n ** BigInt(power);
    else den *= 10n ** BigInt(-power);
  }
  return { num, den };
}

/** -1, 0 or 1 as a is less than, equal to or greater than b; undefined when either is no quantity. */
export function compareQuantities(a: string | number, b: string | number): -1 | 0 | 1 | undefined {
  const x = quantityValue(a);
  const y = quantityValue(b);
  if (!x || !y) return undefined;
  const left = x.num * y.den;
  const right = y.num * x.den;
  return left < right ? -1 : left > right ? 1 : 0;
}

type QuantityList = Record<string, string | number>;

/** Compute resources with every quantity written as a string, as a container's resources take them. */
export function stringifyQuantities(resources: { requests?: QuantityList; limits?: QuantityList }) {
  const toStrings = (list: QuantityList | undefined) =>
    list ? Object.fromEntries(Object.entries(list).map(([key, value]) => [key, String(value)])) : undefined;
  const requests = toStrings(resources.requests);
  const limits = toStrings(resources.limits);
  return { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) };
}
