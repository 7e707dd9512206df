// `npm run cluster:up`: the test control plane for manual work. Starts it (building the binary
// on first use), installs crds/*.yaml, prints the KUBECONFIG export, and runs until Ctrl-C or
// SIGTERM, then stops every component and removes its temp directory.
import { startControlPlane } from '../test/support/controlplane.ts';
import { installExitHooks } from '../test/support/controlplane-process.ts';

// Graceful stop on signals is ours to do below; the harness keeps only its last-resort exit hook.
installExitHooks({ signals: false });

const controlPlane = await startControlPlane({
  log: (line) => process.stderr.write(`cluster-up: ${line}\n`),
  onBuildStart: (logPath) =>
    process.stderr.write(`cluster-up: building the control plane (first run, slow); log: ${logPath}\n`),
}).catch((error: Error) => {
  process.stderr.write(`cluster-up: ${error.message}\n`);
  process.exit(1);
});

process.stdout.write(
  [
    `# control plane ready in ${controlPlane.startupMs} ms: ${controlPlane.server} (logs in ${controlPlane.dir}/logs)`,
    `export KUBECONFIG=${controlPlane.kubeconfigPath}`,
    `# tests against it: KINFER_TEST_KUBECONFIG=${controlPlane.kubeconfigPath} npx vitest run --project kube`,
    '# Ctrl-C stops it',
    '',
  ].join('\n'),
);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    process.stderr.write('cluster-up: stopping\n');
    void controlPlane.stop().then(() => process.exit(0));
  });
}
// Keep the event loop alive until a signal arrives.
setInterval(() => {}, 1 << 30);
