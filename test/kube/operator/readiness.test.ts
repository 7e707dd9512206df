import { expect, it } from 'vitest';
import { testKubeConfig, testKubeconfigPath, useTestNamespace } from '../../support/kube.ts';
import { ApiServerRelay, kubeConfigThrough } from './relay.ts';
import { startOperator, until } from './support.ts';

// The operator reaches the shared apiserver through a relay that can refuse connections (as the
// in-cluster Service does when the apiserver is unreachable: ECONNREFUSED). /readyz must say so
// while its informers cannot list or watch, and recover once they can again.

const namespace = useTestNamespace('op-readiness');

it('/readyz is 503 while the informers cannot reach the apiserver, 200 again once they can', async () => {
  const server = new URL(testKubeConfig().getCurrentCluster()!.server);
  const relay = new ApiServerRelay({ host: server.hostname, port: Number(server.port) });
  await relay.listen();
  const operator = await startOperator(kubeConfigThrough(relay, testKubeconfigPath()), {
    namespaces: [namespace()],
    requestTimeoutMs: 3_000,
  });
  const readyz = async () => (await fetch(`http://127.0.0.1:${operator.metricsAddress!.port}/readyz`)).status;
  try {
    await until('the operator to be ready', async () => (await readyz()) === 200);
    await relay.cut();
    await until('/readyz to turn 503 with the apiserver unreachable', async () => (await readyz()) === 503, {
      timeoutMs: 15_000,
    });
    // Still not ready a while later: the informers keep failing, readiness does not flap back.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await readyz()).toBe(503);
    await relay.restore();
    await until('/readyz to be 200 again', async () => (await readyz()) === 200, { timeoutMs: 60_000 });
  } finally {
    await operator.stop();
    relay.close();
  }
});
