// A real-node cluster to be killed: starts one (no kinfer image, one kwok node, no CRDs), prints
// `{"dir": <node dir>, "controlPlaneDir": ...}` on one line once it is ready, then waits. The e2e
// setup SIGKILLs it to check that the janitor puts the host back and nothing keeps running.
import { startControlPlane } from '../controlplane.ts';

const cluster = await startControlPlane({ realNode: { images: [] }, crdsDir: null, nodes: 1 });
process.stdout.write(`${JSON.stringify({ dir: cluster.realNode?.dir, controlPlaneDir: cluster.dir })}\n`);
setInterval(() => {}, 1 << 30);
