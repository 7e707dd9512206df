import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { createLogger } from '../../log.ts';
import { operatorControllers } from '../../operator/controllers.ts';
import type { InferenceJobSettings } from '../../operator/inferencejob/controller.ts';
import { defaultRunnerConfig } from '../../operator/inferencejob/desired.ts';
import { defaultRunnerUrlTemplate, parseRunnerAccess } from '../../operator/inferencejob/runner-client.ts';
import { DEFAULT_CONCURRENCY, Operator } from '../../operator/manager.ts';
import { defaultPredictorConfig } from '../../operator/modeldeployment/desired.ts';
import { booleanFlag, parseOptions } from '../../shared/options.ts';
import type { CommandHelp } from '../usage.ts';

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export const OperatorOptionsSchema = z.object({
  namespaces: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a namespace name')))
    .describe('namespaces to watch, comma-separated; empty: every namespace'),
  metricsPort: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .default(8081)
    .describe('port of /healthz, /readyz and /metrics; 0 picks a free one'),
  metricsHost: z.string().default('0.0.0.0').describe('address /healthz, /readyz and /metrics listen on'),
  leaderElect: booleanFlag()
    .default(false)
    .describe('take a Lease before reconciling, so only one replica of several acts at a time'),
  leaseNamespace: z
    .string()
    .optional()
    .describe(
      "the Lease's namespace; unset: POD_NAMESPACE, the service account's namespace, the first watched namespace, or default",
    ),
  leaseName: z.string().default('kinfer-operator').describe("the Lease's name"),
  leaseDurationSeconds: z.coerce
    .number()
    .int()
    .min(2)
    .max(300)
    .default(15)
    .describe('how long a Lease not renewed stays taken; the leader renews within two thirds of it'),
  image: z
    .string()
    .min(1)
    .default(defaultPredictorConfig.image)
    .describe(
      "image of the job-runner pods, and of the predictor pods when a ModelDeployment's spec.image is omitted",
    ),
  imagePullPolicy: z
    .enum(['Always', 'IfNotPresent', 'Never'])
    .default('IfNotPresent')
    .describe('imagePullPolicy of the predictor and job-runner containers'),
  builtinModelsDir: z
    .string()
    .min(1)
    .default(defaultPredictorConfig.builtinModelsDir)
    .describe('where builtin models live inside the image: <dir>/<name>/model.onnx'),
  concurrency: z.coerce
    .number()
    .int()
    .min(1)
    .max(64)
    .default(DEFAULT_CONCURRENCY)
    .describe('reconciles in flight at once, per kind'),
  resyncSeconds: z.coerce
    .number()
    .int()
    .min(0)
    .default(600)
    .describe('every this often each resource is reconciled again, as a safety net; 0: never'),
  watchTimeoutSeconds: z.coerce
    .number()
    .int()
    .min(1)
    .max(3600)
    .default(300)
    .describe('server-side timeout of each watch request, after which the watch is opened again'),
  jobRunnerUrl: z
    .string()
    .default('')
    .transform((value, ctx) => {
      try {
        return parseRunnerAccess(value || undefined);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    })
    .describe(
      `how the operator reads a job runner's progress: a URL template with {name}, {namespace}, {service} and {port}, or apiserver-proxy for an operator outside the cluster; empty: ${defaultRunnerUrlTemplate} (in-cluster DNS)`,
    ),
  jobLingerSeconds: z.coerce
    .number()
    .int()
    .min(0)
    .max(3600)
    .default(defaultRunnerConfig.lingerSeconds)
    .describe('seconds a finished job runner keeps serving, so clients and the operator read the end'),
});

export const help: CommandHelp = {
  synopsis: '[flags]',
  about:
    'Runs the Kubernetes operator: reconciles ModelDeployments and InferenceJobs in the watched namespaces. It uses the in-cluster service account, or KUBECONFIG / ~/.kube/config outside a cluster.',
  settings: OperatorOptionsSchema,
};

export type OperatorCliOptions = z.infer<typeof OperatorOptionsSchema>;

/** The InferenceJob controller's settings from the parsed flags. */
export const inferenceJobSettings = (options: OperatorCliOptions): InferenceJobSettings => ({
  runnerAccess: options.jobRunnerUrl,
  runner: { lingerSeconds: options.jobLingerSeconds },
});

/** `kinfer operator`: in-cluster config, or KUBECONFIG / ~/.kube/config beside the cluster. */
export async function run(argv: string[]): Promise<void> {
  const { options } = parseOptions(OperatorOptionsSchema, argv);
  const log = createLogger('operator');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  // POD_NAMESPACE / POD_NAME come from the downward API in config/manager (outside the cluster:
  // the first watched namespace, or default).
  const leaseNamespace =
    options.leaseNamespace ??
    (process.env.POD_NAMESPACE || undefined) ??
    inClusterNamespace() ??
    options.namespaces[0] ??
    'default';
  const renewDeadlineMs = Math.round(options.leaseDurationSeconds * 1000 * (2 / 3));
  const operator = new Operator(
    {
      kubeConfig,
      namespaces: options.namespaces,
      metricsPort: options.metricsPort,
      metricsHost: options.metricsHost,
      leaderElect: options.leaderElect,
      leaseNamespace,
      leaseName: options.leaseName,
      ...(process.env.POD_NAME ? { identity: `${process.env.POD_NAME}_${process.pid}` } : {}),
      leaseDurationSeconds: options.leaseDurationSeconds,
      renewDeadlineMs,
      retryPeriodMs: Math.max(500, Math.round(renewDeadlineMs / 5)),
      concurrency: options.concurrency,
      resyncMs: options.resyncSeconds * 1000,
      watchTimeoutSeconds: options.watchTimeoutSeconds,
      predictor: {
        ...defaultPredictorConfig,
        image: options.image,
        imagePullPolicy: options.imagePullPolicy,
        builtinModelsDir: options.builtinModelsDir,
      },
      logger: log,
    },
    operatorControllers(inferenceJobSettings(options)),
  );
  let exitCode = 0;
  const shutdown = (signal: string) => {
    log.info({ event: 'operator.signal', signal }, 'shutting down: finishing reconciles in flight');
    void operator.stop().then(() => process.exit(exitCode));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  void operator.lost.then(() => {
    // Another replica may already be reconciling: stop at once rather than write beside it.
    log.error({ event: 'operator.leadership_lost' }, 'lost the leader lease; exiting');
    exitCode = 1;
    shutdown('leadership-lost');
  });
  log.info(
    {
      event: 'operator.starting',
      server: kubeConfig.getCurrentCluster()?.server,
      leaderElect: options.leaderElect,
      leaseNamespace,
      metricsPort: options.metricsPort,
    },
    'starting operator',
  );
  await operator.start();
  // Keep running until a signal arrives.
  await new Promise<never>(() => {});
}

function inClusterNamespace(): string | undefined {
  try {
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
