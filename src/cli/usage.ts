import { z } from 'zod';
import { envName, flagName, isBoolean } from '../shared/options.ts';

/** What `kinfer <command> --help` prints about a command, beside the settings its parser reads. */
export interface CommandHelp {
  /** What follows `kinfer <command>` on the usage line, e.g. `IMAGE.png... [flags]`. */
  synopsis: string;
  /** What the command does, in a sentence or a few. */
  about: string;
  /** The zod object the command hands to its parser: each key is a flag and a KINFER_ variable. */
  settings: z.ZodObject;
  /** Short spellings the command turns into long flags before parsing, e.g. `{ '-n': 'namespace' }`. */
  aliases?: Readonly<Record<string, string>>;
}

/** One setting as the usage text shows it. */
export interface SettingHelp {
  flag: string;
  env: string;
  /** The value placeholder (`<int>`, `<Always|Never>`); empty for a boolean flag. */
  value: string;
  /** `default 8080`, `required` or `unset`. */
  default: string;
  description: string | undefined;
}

const width = 80;
const indent = '      ';

/** `kinfer <command> --help`: the usage line, what the command does, then every flag it accepts. */
export function commandUsage(command: string, help: CommandHelp): string {
  const flags = settingsOf(help.settings).flatMap((setting) => {
    if (!setting.description) throw new Error(`${command}: ${setting.flag} has no description`);
    const key = setting.flag.slice(2);
    const alias = Object.entries(help.aliases ?? {}).find(([, long]) => flagName(long) === key)?.[0];
    const spelled = [alias ? `${alias}, ${setting.flag}` : setting.flag, setting.value].filter(Boolean);
    return [
      `  ${spelled.join(' ')}  ${setting.env}  ${setting.default}`,
      ...wrap(setting.description, width, indent),
    ];
  });
  return [
    `Usage: kinfer ${command} ${help.synopsis}`,
    '',
    ...wrap(help.about, width, ''),
    '',
    'Flags (each also read from the KINFER_ variable shown; a flag wins over it):',
    ...flags,
    '',
  ].join('\n');
}

/** Each key of a command's settings object, spelled as `parseOptions` reads it. */
export function settingsOf(settings: z.ZodObject): SettingHelp[] {
  return Object.entries(settings.shape).map(([key, type]) => ({
    flag: `--${flagName(key)}`,
    env: envName(key),
    value: isBoolean(type) ? '' : placeholder(type),
    default: defaultText(type),
    description: type.description,
  }));
}

/** `<int>`, `<number>`, `<url>`, `<list>`, `<A|B>` or `<string>`, from the value's input type. */
function placeholder(type: z.ZodType): string {
  const json = z.toJSONSchema(type, { io: 'input', unrepresentable: 'any' }) as {
    type?: unknown;
    enum?: unknown[];
    format?: unknown;
  };
  if (json.enum) return `<${json.enum.join('|')}>`;
  if (json.type === 'integer') return '<int>';
  if (json.type === 'number') return '<number>';
  if (json.type === 'array') return '<list>';
  if (json.format === 'uri') return '<url>';
  return '<string>';
}

function defaultText(type: z.ZodType): string {
  const found = inputDefault(type);
  if (found) return `default ${formatValue(found.value)}`;
  return type.isOptional() ? 'unset' : 'required';
}

/** The default as given (before any transform turns it into the parsed value), if there is one. */
function inputDefault(type: z.core.$ZodType): { value: unknown } | undefined {
  if (type instanceof z.ZodDefault || type instanceof z.ZodPrefault) return { value: type.def.defaultValue };
  if (type instanceof z.ZodPipe) return inputDefault(type.in);
  if (type instanceof z.ZodOptional || type instanceof z.ZodNullable) return inputDefault(type.unwrap());
  return undefined;
}

function formatValue(value: unknown): string {
  const text = Array.isArray(value) ? value.join(',') : String(value);
  return text === '' ? '""' : text;
}

/** `text` broken between words into lines of at most `columns` characters, each starting with `prefix`. */
export function wrap(text: string, columns: number, prefix: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && prefix.length + line.length + 1 + word.length > columns) {
      lines.push(prefix + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(prefix + line);
  return lines;
}
