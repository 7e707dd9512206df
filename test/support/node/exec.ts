import { execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** A host command that failed: its command line, exit status and the tail of what it printed. */
export class HostCommandError extends Error {
  readonly code = 'host_command_failed';
  constructor(
    readonly command: string,
    readonly output: string,
    readonly logPath?: string,
  ) {
    super(
      `${command} failed${logPath ? ` (log: ${logPath})` : ''}:\n${output.trimEnd().split('\n').slice(-30).join('\n')}`,
    );
  }
}

function describeCommand(command: string, args: string[]): string {
  return [command, ...args].map((part) => (/^[\w@%+=:,./-]+$/.test(part) ? part : `'${part}'`)).join(' ');
}

/** Runs a short command and returns its stdout; stdin may be given. Throws HostCommandError. */
export function run(
  command: string,
  args: string[],
  options: { input?: string | Buffer; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      {
        encoding: 'utf8',
        maxBuffer: 256 * 1024 * 1024,
        timeout: options.timeoutMs ?? 120_000,
        env: options.env ?? process.env,
        cwd: options.cwd,
      },
      (error, stdout, stderr) => {
        if (error)
          reject(new HostCommandError(describeCommand(command, args), `${stderr}${stdout}` || error.message));
        else resolve(stdout);
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/**
 * Runs a long command (a build) with its output appended to `logPath`; resolves when it exits 0,
 * otherwise throws with the log's tail. Nothing is printed to the terminal.
 */
export async function runLogged(
  command: string,
  args: string[],
  logPath: string,
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<void> {
  const log = createWriteStream(logPath, { flags: 'a' });
  const line = describeCommand(command, args);
  log.write(`$ ${line}\n`);
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    child.on('error', reject);
    child.on('close', resolve);
  });
  await new Promise((resolve) => log.end(resolve));
  if (code !== 0) {
    throw new HostCommandError(line, await readFile(logPath, 'utf8').catch(() => ''), logPath);
  }
}
