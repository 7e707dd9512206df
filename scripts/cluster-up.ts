// `npm run cluster:up [-- --real-node]`: the test cluster for manual work. Starts the control plane
// (building the binaries on first use), installs crds/*.yaml, prints the KUBECONFIG export, and
// runs until Ctrl-C or SIGTERM, then stops every component and removes its temp directory.
// --real-node adds the real node (containerd, kubelet, kube-proxy, CoreDNS) with the kinfer image
// built from the Dockerfile loaded into it, and puts back on stop what it changed on the host.
import { parseArgs } from 'node:util';
import { repoRoot, startControlPlane } from '../test/support/controlplane.ts';
import { installExitHooks } from '../test/support/controlplane-process.ts';
import { ensureKinferImage } from '../test/support/node/images.ts';

const { values } = parseArgs({
  options: {
    'real-node': { type: 'boolean', default: false },
    'pod-cidr': { type: 'string' },
    'service-cidr': { type: 'string' },
  },
});

// Graceful stop on signals is ours to do below; the harness keeps only its last-resort exit hook.
installExitHooks({ signals: false });

const log = (line: string) => process.stderr.write(`cluster-up: ${line}\n`);
const fail = (error: Error) => {
  log(error.message);
  process.exit(1);
};

const image = values['real-node'] ? await ensureKinferImage({ repoRoot, log }).catch(fail) : undefined;
const controlPlane = await startControlPlane({
  log,
  onBuildStart: (logPath) => log(`building the control plane (first run, slow); log: ${logPath}`),
  network: { podCidr: values['pod-cidr'], serviceCidr: values['service-cidr'] },
  ...(image ? { realNode: { images: [image.archive] } } : {}),
}).catch(fail);

const node = controlPlane.realNode;
process.stdout.write(
  [
    `# control plane ready in ${controlPlane.startupMs} ms: ${controlPlane.server} (logs in ${controlPlane.dir}/logs)`,
    ...(node && image
      ? [
          `# real node ${node.name} at ${node.ip}: pods ${controlPlane.network.podCidr}, Services ${controlPlane.network.serviceCidr}, DNS ${controlPlane.network.dnsServiceIp} (logs in ${node.dir}/logs)`,
          `# kinfer image: ${image.ref} (imagePullPolicy: IfNotPresent); kwok nodes are tainted ${'kwok.x-k8s.io/node=fake:NoSchedule'}`,
        ]
      : []),
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
    log('stopping');
    void controlPlane.stop().then(
      () => process.exit(0),
      (error: Error) => fail(error),
    );
  });
}
// Keep the event loop alive until a signal arrives.
setInterval(() => {}, 1 << 30);
