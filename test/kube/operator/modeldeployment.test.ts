import { describe, expect, it } from 'vitest';
import { KubeClient } from '../../../src/kube/client.ts';
import { Informer } from '../../../src/kube/informer.ts';
import { ModelDeployments } from '../../../src/kube/resources.ts';
import { testKubeConfig, testKubeconfigPath } from '../../support/kube.ts';
import {
  conditionsOf,
  type Json,
  kubectl,
  kubectlApply,
  kubectlJson,
  modelDeployment,
  until,
  useTestOperator,
} from './support.ts';

// The operator runs in this process against the shared control plane; kwok's fake kubelet runs the
// predictor pods to Running+Ready. Where a test needs a failing pod, it writes the pod's status the
// way a kubelet would (the fake kubelet's job, not a mock of the API).
const { namespace } = useTestOperator('op-md');
const kubeconfig = testKubeconfigPath;

describe('ModelDeployment reconciler on a real control plane', () => {
  it('makes the sample Ready (kubectl wait) with endpoints, owned children and observedGeneration', async () => {
    // Every status the apiserver stores, in order (a watch sees each write).
    const client = new KubeClient(testKubeConfig());
    const watcher = new Informer({ client, type: ModelDeployments, namespace: namespace() });
    const statuses: Json[] = [];
    watcher.onEvent(({ object }) => {
      if (object.metadata.name === 'mnist' && object.status) statuses.push(object.status);
    });
    watcher.start();
    await watcher.waitForSync();
    await kubectl(kubeconfig(), [
      'apply',
      '--server-side',
      '-n',
      namespace(),
      '-f',
      'config/samples/kinfer_v1alpha1_modeldeployment_minimal.yaml',
    ]);
    await kubectl(kubeconfig(), [
      'wait',
      '-n',
      namespace(),
      '--for=condition=Ready',
      'md/mnist',
      '--timeout=60s',
    ]);
    await watcher.stop();
    client.close();
    // The first status written already has all three conditions, Unknown: never a missing Ready;
    // and Reconciling True, so kstatus reads it as InProgress rather than Current.
    expect(statuses[0]?.conditions?.map((c: Json) => [c.type, c.status])).toEqual([
      ['Ready', 'Unknown'],
      ['Progressing', 'Unknown'],
      ['Degraded', 'Unknown'],
      ['Reconciling', 'True'],
      ['Stalled', 'False'],
    ]);
    const md = await kubectlJson(kubeconfig(), ['get', '-n', namespace(), 'md/mnist']);
    const conditions = conditionsOf(md);
    expect(conditions.Ready.status).toBe('True');
    expect(conditions.Progressing.status).toBe('False');
    expect(conditions.Degraded.status).toBe('False');
    expect(conditions.Reconciling.status).toBe('False');
    expect(conditions.Stalled.status).toBe('False');
    expect(md.status).toMatchObject({
      observedGeneration: md.metadata.generation,
      replicas: 1,
      readyReplicas: 1,
      updatedReplicas: 1,
      selector:
        'app.kubernetes.io/component=predictor,app.kubernetes.io/instance=mnist,app.kubernetes.io/name=kinfer',
      model: { name: 'mnist-cnn' },
      endpoints: {
        rest: `http://mnist.${namespace()}.svc.cluster.local:8080`,
        infer: `http://mnist.${namespace()}.svc.cluster.local:8080/v2/models/mnist-cnn/infer`,
        websocket: `ws://mnist.${namespace()}.svc.cluster.local:8080/ws`,
      },
    });
    for (const kind of ['deployment', 'service']) {
      const child = await kubectlJson(kubeconfig(), [
        'get',
        '-n',
        namespace(),
        kind,
        'mnist',
        '--show-managed-fields',
      ]);
      expect(child.metadata.ownerReferences).toEqual([
        expect.objectContaining({
          kind: 'ModelDeployment',
          name: 'mnist',
          uid: md.metadata.uid,
          controller: true,
        }),
      ]);
      expect(child.metadata.managedFields.map((f: Json) => f.manager)).toContain('kinfer-operator');
    }
    const events = await kubectlJson(kubeconfig(), [
      'get',
      'events',
      '-n',
      namespace(),
      '--field-selector',
      'involvedObject.name=mnist,involvedObject.kind=ModelDeployment',
    ]);
    expect(events.items.map((e: Json) => e.reason)).toEqual(expect.arrayContaining(['Created', 'Ready']));
  });

  it('scales through the scale subresource (kubectl scale)', async () => {
    await kubectl(kubeconfig(), ['scale', '-n', namespace(), 'md/mnist', '--replicas=3']);
    await until('the Deployment to want 3 replicas', async () => {
      const deployment = await kubectlJson(kubeconfig(), ['get', '-n', namespace(), 'deployment', 'mnist']);
      return deployment.spec.replicas === 3;
    });
    const md = await until('the ModelDeployment to be Ready with 3 replicas', async () => {
      const md = await kubectlJson(kubeconfig(), ['get', '-n', namespace(), 'md/mnist']);
      return md.status?.readyReplicas === 3 &&
        md.status.observedGeneration === md.metadata.generation &&
        conditionsOf(md).Ready?.status === 'True'
        ? md
        : undefined;
    });
    expect(md.status.replicas).toBe(3);
    const scalePath = `/apis/kinfer.dev/v1alpha1/namespaces/${namespace()}/modeldeployments/mnist/scale`;
    const scale = JSON.parse(await kubectl(kubeconfig(), ['get', '--raw', scalePath]));
    expect(scale.status).toMatchObject({ replicas: 3, selector: md.status.selector });
  });

  it('restores children deleted or edited by hand', async () => {
    const before = await kubectlJson(kubeconfig(), ['get', '-n', namespace(), 'deployment', 'mnist']);
    await kubectl(kubeconfig(), ['delete', '-n', namespace(), 'deployment', 'mnist', '--wait=false']);
    await kubectl(kubeconfig(), ['delete', '-n', namespace(), 'service', 'mnist', '--wait=false']);
    await until('the Deployment and Service to come back', async () => {
      const deployment = await kubectlJson(kubeconfig(), ['get', '-n', namespace(), 'deployment', 'mnist']);
      await kubectlJson(kubeconfig(), ['get', '-n', namespace(), 'service', 'mnist']);
      return deployment.metadata.uid !== before.metadata.uid && !deployment.metadata.deletionTimestamp;
    });
    // An edit of a field the operator owns is reverted (server-side apply with force).
    await kubectl(kubeconfig(), [
      'patch',
      '-n',
      namespace(),
      'deployment',
      'mnist',
      '--type=json',
      '-p',
      '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"someone/else:1"}]',
    ]);
    await until('the image edit to be reverted', async () => {
      const deployment = await kubectlJson(kubeconfig(), ['get', '-n', namespace(), 'deployment', 'mnist']);
      return deployment.spec.template.spec.containers[0].image === 'kinfer:test';
    });
    await kubectl(kubeconfig(), [
      'wait',
      '-n',
      namespace(),
      '--for=condition=Ready',
      'md/mnist',
      '--timeout=60s',
    ]);
  });

  it('reports a failing pod as Degraded with the pod’s own reason and message', async () => {
    await kubectlApply(kubeconfig(), [modelDeployment('broken', namespace())]);
    await kubectl(kubeconfig(), [
      'wait',
      '-n',
      namespace(),
      '--for=condition=Ready',
      'md/broken',
      '--timeout=60s',
    ]);
    const pods = await kubectlJson(kubeconfig(), [
      'get',
      'pods',
      '-n',
      namespace(),
      '-l',
      'app.kubernetes.io/instance=broken',
    ]);
    const pod = pods.items[0];
    // What a kubelet writes for a predictor that exits because its model does not load.
    const status = {
      status: {
        conditions: [
          { type: 'Ready', status: 'False', reason: 'ContainersNotReady' },
          { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady' },
        ],
        containerStatuses: [
          {
            name: 'predictor',
            image: 'kinfer:test',
            imageID: '',
            ready: false,
            started: false,
            restartCount: 3,
            state: {
              waiting: {
                reason: 'CrashLoopBackOff',
                message: 'back-off 40s restarting failed container=predictor',
              },
            },
            lastState: {
              terminated: {
                exitCode: 1,
                reason: 'Error',
                message: 'ModelLoadFailed: /app/models/mnist-cnn/model.onnx: protobuf parsing failed',
                startedAt: '2026-01-01T00:00:00Z',
                finishedAt: '2026-01-01T00:00:01Z',
              },
            },
          },
        ],
      },
    };
    await kubectl(kubeconfig(), [
      'patch',
      '-n',
      namespace(),
      'pod',
      pod.metadata.name,
      '--subresource=status',
      '--type=strategic',
      '-p',
      JSON.stringify(status),
    ]);
    const md = await until('Degraded=True', async () => {
      const md = await kubectlJson(kubeconfig(), ['get', '-n', namespace(), 'md/broken']);
      return conditionsOf(md).Degraded?.status === 'True' ? md : undefined;
    });
    const conditions = conditionsOf(md);
    expect(conditions.Degraded.reason).toBe('ModelLoadFailed');
    expect(conditions.Degraded.message).toContain('protobuf parsing failed');
    expect(conditions.Degraded.message).toContain(pod.metadata.name);
    expect(conditions.Ready.status).toBe('False');
    // kstatus reads Stalled=True as Failed.
    expect(conditions.Stalled).toMatchObject({ status: 'True', reason: 'ModelLoadFailed' });
    expect(conditions.Reconciling.status).toBe('False');
    const events = await kubectlJson(kubeconfig(), [
      'get',
      'events',
      '-n',
      namespace(),
      '--field-selector',
      'involvedObject.name=broken,involvedObject.kind=ModelDeployment',
    ]);
    expect(events.items.map((e: Json) => [e.type, e.reason])).toContainEqual(['Warning', 'ModelLoadFailed']);
  });

  it('reports a spec it cannot honour yet (missing ConfigMap) in Degraded, naming the field', async () => {
    await kubectlApply(kubeconfig(), [
      modelDeployment('from-cm', namespace(), {
        model: { name: 'digits', source: { configMap: { name: 'no-such-model', key: 'model.onnx' } } },
      }),
    ]);
    const md = await until('Degraded=True', async () => {
      const md = await kubectlJson(kubeconfig(), ['get', '-n', namespace(), 'md/from-cm']);
      return conditionsOf(md).Degraded?.status === 'True' ? md : undefined;
    });
    expect(conditionsOf(md).Degraded.reason).toBe('ModelConfigMapNotFound');
    expect(conditionsOf(md).Degraded.message).toContain('spec.model.source.configMap.name');
    expect(conditionsOf(md).Ready.status).toBe('False');
  });

  it('leaves deletion to garbage collection: the children go with the ModelDeployment', async () => {
    await kubectl(kubeconfig(), ['delete', '-n', namespace(), 'md/mnist', '--wait=true', '--timeout=30s']);
    await until(
      'the Deployment and Service to be garbage-collected',
      async () => {
        const deployments = await kubectlJson(kubeconfig(), [
          'get',
          'deployments',
          '-n',
          namespace(),
          '-l',
          'app.kubernetes.io/instance=mnist',
        ]);
        const services = await kubectlJson(kubeconfig(), [
          'get',
          'services',
          '-n',
          namespace(),
          '-l',
          'app.kubernetes.io/instance=mnist',
        ]);
        return deployments.items.length === 0 && services.items.length === 0;
      },
      { timeoutMs: 60_000 },
    );
  });
});
