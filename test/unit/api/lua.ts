import { spawnSync } from 'node:child_process';

/** A Lua 5.1 literal for a JSON value, the way Argo CD hands a resource to a health script: objects and arrays become tables, null becomes nil. */
export function toLua(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot express ${value} in Lua`);
    return String(value);
  }
  if (typeof value === 'string') return luaString(value);
  if (Array.isArray(value)) return `{${value.map(toLua).join(', ')}}`;
  if (typeof value === 'object') {
    const fields = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => `[${luaString(k)}] = ${toLua(v)}`);
    return `{${fields.join(', ')}}`;
  }
  throw new Error(`cannot express a ${typeof value} in Lua`);
}

/** A double-quoted Lua string: bytes of the UTF-8 text, with \ddd escapes for anything unprintable. */
function luaString(text: string): string {
  let out = '"';
  for (const byte of Buffer.from(text, 'utf8')) {
    if (byte === 0x22) out += '\\"';
    else if (byte === 0x5c) out += '\\\\';
    else if (byte < 0x20 || byte === 0x7f) out += `\\${byte.toString().padStart(3, '0')}`;
    else out += String.fromCharCode(byte);
  }
  // Bytes >= 0x80 were appended as Latin-1 code points; write them back as the original bytes.
  return `${out}"`;
}

/** Runs a health.lua over one object in a real Lua 5.1 interpreter; returns what Argo CD would read. */
export function runHealthScript(
  lua: string,
  scriptPath: string,
  object: unknown,
): { status: string; message: string | undefined } {
  const harness = [
    `obj = ${toLua(object)}`,
    `local hs = dofile(${luaString(scriptPath)})`,
    // First line: the status; then "-" for no message, or "+" and the message (which may hold newlines).
    'io.write(tostring(hs.status), "\\n", hs.message == nil and "-" or "+" .. tostring(hs.message))',
  ].join('\n');
  const result = spawnSync(lua, ['-'], { input: Buffer.from(harness, 'latin1'), encoding: 'utf8' });
  if (result.error)
    throw new Error(`cannot run ${lua}: ${result.error.message} (install Debian's lua5.1; .ci/run does)`);
  if (result.status !== 0) throw new Error(`${scriptPath} failed: ${result.stderr}`);
  const newline = result.stdout.indexOf('\n');
  const rest = result.stdout.slice(newline + 1);
  return {
    status: result.stdout.slice(0, newline),
    message: rest.startsWith('+') ? rest.slice(1) : undefined,
  };
}
