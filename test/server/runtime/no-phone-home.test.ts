import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { getJson, postJson, testModelPath } from './helpers.ts';

// The real `kinfer runtime` under strace, every thread followed, with an empty HOME and none of
// the telemetry variables inherited from the test: kinfer alone must keep onnxruntime quiet.
// Without it, onnxruntime 1.30 writes ~/.cache/Microsoft/DeveloperTools/.onnxruntime/{deviceid,
// onnxruntime.db} as it loads and resolves mobile.events.data.microsoft.com about 11 s after the
// model is ready (seen with this same trace), hence the quiet period below.

const bin = fileURLToPath(new URL('../../../bin/kinfer.js', import.meta.url));
const quietPeriodMs = 20_000;
const dir = mkdtempSync(join(tmpdir(), 'kinfer-no-phone-home-'));
let child: ChildProcess | undefined;

afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Trace lines that reach outside the machine or look a name up; loopback and local sockets pass. */
function outboundCalls(trace: string): string[] {
  return trace.split('\n').filter((line) => {
    if (!/\b(connect|sendto|sendmsg)\(/.test(line)) return false;
    if (/htons\(53\)/.test(line)) return true; // DNS, even to a loopback resolver
    if (/sun_path="[^"]*nscd/.test(line)) return true; // glibc's name service cache
    const v4 = /sa_family=AF_INET,.*inet_addr\("([^"]+)"\)/.exec(line);
    if (v4) return !v4[1]!.startsWith('127.');
    const v6 = /sa_family=AF_INET6,.*inet_pton\(AF_INET6, "([^"]+)"/.exec(line);
    if (v6) return !(v6[1] === '::1' || v6[1]!.startsWith('::ffff:127.'));
    return false;
  });
}

it('strace sees a traced kinfer line as outbound only when it leaves loopback', () => {
  expect(
    outboundCalls(
      [
        '7 connect(51, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16) = 0',
        '7 connect(5, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("127.0.0.53")}, 16) = 0',
        '7 connect(9, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2603:1030::1", &sin6_addr), sin6_scope_id=0}, 28) = 0',
        '7 connect(9, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("13.69.239.72")}, 16) = -1 EINPROGRESS',
        '7 connect(3, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT',
        '7 connect(46, {sa_family=AF_UNIX, sun_path="/tmp/tsx-0/3058.pipe"}, 110) = -1 ENOENT',
        '7 connect(9, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("127.0.0.1")}, 16) = 0',
        '7 connect(9, {sa_family=AF_INET6, sin6_port=htons(8080), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0',
      ].join('\n'),
    ),
  ).toHaveLength(5);
});

it('a runtime serving requests makes no DNS query, no connection outside loopback, no file under $HOME', async () => {
  const strace = spawnSync('strace', ['-V'], { encoding: 'utf8' });
  expect(strace.error, 'strace is needed (apt-get install strace; .ci/run installs it)').toBeUndefined();

  const home = join(dir, 'home');
  mkdirSync(home);
  const traceFile = join(dir, 'trace');
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
  for (const name of [
    'ORT_DISABLE_TELEMETRY',
    'KINFER_ONNXRUNTIME_TELEMETRY',
    'XDG_CACHE_HOME',
    'XDG_DATA_HOME',
  ])
    delete env[name];
  child = spawn(
    'strace',
    [
      ...['-f', '-qq', '-o', traceFile, '-e', 'trace=connect,sendto,sendmsg,sendmmsg,openat,mkdir,mkdirat'],
      ...[process.execPath, bin, 'runtime', '--host', '127.0.0.1', '--port', '0', '--model', testModelPath],
      ...['--workers', '1'],
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stderr: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const exited = once(child, 'exit');

  let url = '';
  let pid = 0;
  for await (const line of createInterface({ input: child.stdout! })) {
    const entry = JSON.parse(line) as { event?: string; address?: string; pid: number };
    pid = entry.pid;
    if (entry.event === 'server.listening') url = entry.address!;
    if (entry.event === 'model.ready') break;
  }
  expect(url, stderr.join('')).not.toBe('');
  child.stdout!.resume();

  for (let i = 0; i < 20; i++) {
    const pixels = Array.from({ length: 784 }, (_, p) => (p * (i + 1)) % 256);
    expect((await postJson(`${url}/v1/predict`, { pixels })).status).toBe(200);
  }
  expect((await getJson(`${url}/v2/models/mnist-cnn`)).status).toBe(200);
  await new Promise((resolve) => setTimeout(resolve, quietPeriodMs));
  process.kill(pid, 'SIGTERM');
  const [code] = await exited;
  expect(code, stderr.join('')).toBe(0);

  const trace = readFileSync(traceFile, 'utf8');
  // The trace followed the threads that ran onnxruntime (the model is opened in a worker thread).
  expect(trace).toMatch(/openat\([^\n]*model\.onnx"/);
  expect(outboundCalls(trace)).toEqual([]);
  const homeWrites = trace
    .split('\n')
    .filter((line) => line.includes(`"${home}/`) && /mkdir|O_CREAT|O_WRONLY|O_RDWR/.test(line));
  expect(homeWrites).toEqual([]);
  expect(readdirSync(home, { recursive: true })).toEqual([]);
}, 120_000);
