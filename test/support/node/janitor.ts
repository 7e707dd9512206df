// The real node's janitor (started detached by acquireRealNodeHost): waits for the harness's
// process to go, and if it went without tearing the node down (SIGKILL, a crash), tears it down:
// kills the kubelet, containers, shims and containerd, and puts the host back as it was.
//   node --import tsx test/support/node/janitor.ts <node dir> <harness pid> <lock path>
import { readFile, rm } from 'node:fs/promises';
import { processAlive } from '../controlplane-process.ts';
import { loadState, teardownHost } from './host.ts';

const [dir, pidText, lockPath] = process.argv.slice(2);
const watched = Number(pidText);
if (!dir || !Number.isInteger(watched) || watched <= 0 || !lockPath) {
  process.stderr.write('usage: janitor.ts <node dir> <harness pid> <lock path>\n');
  process.exit(2);
}

// SIGTERM: the harness tore the node down itself and no longer needs us.
process.on('SIGTERM', () => process.exit(0));
// A Ctrl-C in the terminal that started the harness must not end the janitor before it is needed.
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});

const timer = setInterval(() => {
  if (processAlive(watched)) return;
  clearInterval(timer);
  void (async () => {
    const log = (line: string) => process.stdout.write(`${new Date().toISOString()} janitor: ${line}\n`);
    log(`process ${watched} is gone; tearing down ${dir}`);
    const state = await loadState(dir);
    const errors = state ? await teardownHost(state) : [];
    for (const error of errors) log(`error: ${error}`);
    const lock = await readFile(lockPath, 'utf8').catch(() => '');
    if (lock.includes(JSON.stringify(dir))) await rm(lockPath, { force: true });
    log(errors.length === 0 ? 'host restored' : `done with ${errors.length} errors`);
    if (errors.length === 0) await rm(`${dir}.janitor.log`, { force: true });
    process.exit(errors.length === 0 ? 0 : 1);
  })();
}, 500);
