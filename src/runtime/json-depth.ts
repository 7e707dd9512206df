/**
 * A bound on how deep a JSON text nests, checked before `JSON.parse` sees it. Parsing nesting is
 * far dearer than parsing numbers (10,000 levels in 20 KB take ~3.5 ms of the event loop, 50 times
 * a 15 KB one-digit V2 body; a 32 MB body of `[` about ten seconds), so a hostile body must be
 * refused by a scan that stops at the first level too deep, never parsed first.
 */

import { BACKSLASH, CLOSE_ARRAY, CLOSE_OBJECT, COMMA, OPEN_ARRAY, OPEN_OBJECT, QUOTE } from './json-bytes.ts';

/**
 * Where `text` first nests deeper than `maxDepth` arrays and objects, as an error message naming
 * the innermost object member that holds it (`inputs[0].data: …`; `root`, such as `body`, when no
 * member does), or undefined when it does not. Does not validate the JSON otherwise (the parser does that). Cheap
 * for ordinary bodies: when the text holds no more brackets than `maxDepth` it is not scanned.
 */
export function jsonDepthError(text: string, maxDepth: number, root = 'body'): string | undefined {
  if (countOpeners(text, maxDepth) <= maxDepth) return undefined;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) i = stringEnd(text, i);
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > maxDepth) {
        return `${pathAt(text, i) ?? root}: JSON nested deeper than ${maxDepth} levels (maxJsonDepth)`;
      }
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
  }
  return undefined;
}

/**
 * Whether `text` holds more than `limit` commas outside its strings (so more than `limit` + 1
 * values in some list): a bound checked before `JSON.parse`, which spends ~0.1 ms of the event
 * loop per thousand small values (a 1 MiB message of points took 80-140 ms), while this scan
 * takes ~1 ms per MiB. A text shorter than `limit` cannot hold more and is not scanned.
 */
export function moreValuesThan(text: string, limit: number): boolean {
  if (text.length <= limit) return false;
  let commas = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) i = stringEnd(text, i);
    else if (c === COMMA && ++commas > limit) return true;
  }
  return false;
}

/** `[` and `{` in `text` (strings included), counted up to just past `limit`. */
function countOpeners(text: string, limit: number): number {
  let count = 0;
  for (const bracket of ['[', '{']) {
    for (let i = text.indexOf(bracket); i !== -1 && count <= limit; i = text.indexOf(bracket, i + 1)) count++;
  }
  return count;
}

/** The index of the quote closing the string that opens at `start` (the text's end if none). */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) return i;
  }
  return text.length;
}

type Level =
  | { kind: 'array'; index: number }
  | { kind: 'object'; key: string | undefined; expectKey: boolean };

/**
 * The path (`inputs[0].data`) of the innermost object member enclosing the bracket at `stop`: the
 * field a client would look for. Runs only on a text being refused, so its cost is no concern.
 */
function pathAt(text: string, stop: number): string | undefined {
  const levels: Level[] = [];
  for (let i = 0; i < stop; i++) {
    const c = text.charCodeAt(i);
    const top = levels.at(-1);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (top?.kind === 'object' && top.expectKey) {
        top.key = readKey(text.slice(i, end + 1));
        top.expectKey = false;
      }
      i = end;
    } else if (c === OPEN_ARRAY) levels.push({ kind: 'array', index: 0 });
    else if (c === OPEN_OBJECT) levels.push({ kind: 'object', key: undefined, expectKey: true });
    else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) levels.pop();
    else if (c === COMMA && top?.kind === 'array') top.index++;
    else if (c === COMMA && top?.kind === 'object') top.expectKey = true;
  }
  let innermostMember = -1;
  for (const [i, level] of levels.entries())
    if (level.kind === 'object' && level.key !== undefined) innermostMember = i;
  if (innermostMember === -1) return undefined;
  let path = '';
  for (const level of levels.slice(0, innermostMember + 1)) {
    if (level.kind === 'array') path += `[${level.index}]`;
    else
      path += /^[A-Za-z_$][\w$]*$/.test(level.key!)
        ? `${path ? '.' : ''}${level.key}`
        : `[${JSON.stringify(level.key)}]`;
  }
  return path;
}

/** A member name from its quoted JSON text, shortened so a huge key cannot flood a message. */
function readKey(quoted: string): string {
  let key: string;
  try {
    key = JSON.parse(quoted) as string;
  } catch {
    key = quoted.slice(1, -1);
  }
  return key.length > 64 ? `${key.slice(0, 64)}…` : key;
}
