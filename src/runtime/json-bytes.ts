/** Character codes of JSON's structural characters, for the scanners that read JSON by code. */
// biome-ignore format: one table
export const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c, COLON = 0x3a, OPEN_ARRAY = 0x5b, CLOSE_ARRAY = 0x5d;
// biome-ignore format: one table
export const OPEN_OBJECT = 0x7b, CLOSE_OBJECT = 0x7d, MINUS = 0x2d, PLUS = 0x2b, DOT = 0x2e, ZERO = 0x30, NINE = 0x39;
/** e and E (an exponent). */
export const LOWER_E = 0x65,
  UPPER_E = 0x45;

/** JSON's whitespace: space, line feed, carriage return, tab (one comparison for anything else printable). */
export const isSpace = (c: number): boolean =>
  c <= 0x20 && (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09);
