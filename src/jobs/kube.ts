import { KubeConfig } from '@kubernetes/client-node';
import { type InferenceJobSpec, parseInferenceJob, parseModelDeployment } from '../api/index.ts';
import { KubeClient } from '../kube/client.ts';
import { ConfigMaps, InferenceJobs, ModelDeployments, resourcePath } from '../kube/resources.ts';
import { JobFailure } from './errors.ts';

/**
 * The runner's reads from the Kubernetes API, for runs where the operator did not pass everything
 * in (a local `kinfer job` against a cluster). In a pod started by the operator none of these is
 * used: the spec and model endpoint arrive as environment variables and a ConfigMap input is mounted.
 */
export class RunnerApi {
  private readonly client: KubeClient;

  constructor(
    private readonly namespace: string,
    kubeConfig?: KubeConfig,
  ) {
    const kc = kubeConfig ?? new KubeConfig();
    if (!kubeConfig) kc.loadFromDefault();
    this.client = new KubeClient(kc, { userAgent: 'kinfer-job' });
  }

  async jobSpec(name: string): Promise<InferenceJobSpec> {
    const raw = await this.client.request(
      'GET',
      resourcePath(InferenceJobs, { namespace: this.namespace, name }),
    );
    return parseInferenceJob(raw).spec;
  }

  /** `status.endpoints.infer` of the ModelDeployment; fails when it has none yet. */
  async modelEndpoint(name: string): Promise<string> {
    const md = parseModelDeployment(
      await this.client.request('GET', resourcePath(ModelDeployments, { namespace: this.namespace, name })),
    );
    const infer = md.status?.endpoints?.infer;
    if (!infer)
      throw new JobFailure('model_unavailable', `ModelDeployment ${name} has no status.endpoints.infer yet`);
    return infer;
  }

  async configMapKey(name: string, key: string): Promise<Buffer> {
    const cm = await this.client.request<{
      data?: Record<string, string>;
      binaryData?: Record<string, string>;
    }>('GET', resourcePath(ConfigMaps, { namespace: this.namespace, name }));
    if (cm.binaryData?.[key] !== undefined) return Buffer.from(cm.binaryData[key], 'base64');
    if (cm.data?.[key] !== undefined) return Buffer.from(cm.data[key], 'utf8');
    throw new Error(`ConfigMap ${name} has no key ${key}`);
  }

  close(): void {
    this.client.close();
  }
}
