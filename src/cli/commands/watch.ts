import { z } from 'zod';
import type { JobProgress, JobServerMessage, PreviewMessage } from '../../api/jobs.ts';
import { flagName, parseOptions, UsageError } from '../../shared/options.ts';
import type { CommandHelp } from '../usage.ts';

export const WatchOptionsSchema = z.object({
  namespace: z.string().min(1).default('default').describe("the InferenceJob's namespace"),
  url: z
    .url()
    .optional()
    .describe("connect here instead of the InferenceJob's preview endpoint (e.g. a port-forward)"),
  columns: z.coerce
    .number()
    .int()
    .min(20)
    .max(400)
    .optional()
    .describe("width of the mosaic in characters; unset: the terminal's width, else 80"),
});

export const help: CommandHelp = {
  synopsis: 'job NAME [-n NAMESPACE] [flags]',
  about:
    "Follows an InferenceJob live: a progress bar, the mosaic of the latest digits, the summary at the end; exits 0 if the job succeeded, 1 if it failed. Inside a cluster it connects to the job's status.previewEndpoint; outside, through the apiserver's service proxy with the kubeconfig's credentials.",
  settings: WatchOptionsSchema,
  aliases: { '-n': 'namespace' },
};

/**
 * `kinfer watch job NAME [-n NS]`: follows a job's preview stream: a progress bar, the mosaic of the
 * latest digits drawn with half blocks, the summary at the end; exits 0 if the job succeeded, 1 if
 * it failed. Inside a cluster it connects to status.previewEndpoint; outside, through the
 * apiserver's service proxy with the kubeconfig's credentials.
 */
export async function run(argv: string[]): Promise<void> {
  const aliases = new Map(Object.entries(help.aliases ?? {}));
  const args = argv.map((arg) => {
    const long = aliases.get(arg);
    return long ? `--${flagName(long)}` : arg;
  });
  const { options, positionals } = parseOptions(WatchOptionsSchema, args);
  const [kind, name, ...extra] = positionals;
  if (kind !== 'job' || !name || extra.length) throw new UsageError(`usage: kinfer watch ${help.synopsis}`);
  const { followJob } = await import('../../jobs/stream-client.ts');
  const { progressBar, renderMosaic, summaryLines } = await import('../../jobs/terminal.ts');

  const target = options.url
    ? { url: options.url, socket: {} }
    : await resolveTarget(name, options.namespace);
  if ('finished' in target) {
    process.stdout.write(`${target.finished}\n`);
    process.exit(target.succeeded ? 0 : 1);
  }
  const tty = Boolean(process.stdout.isTTY);
  const columns = options.columns ?? process.stdout.columns ?? 80;
  let progress: JobProgress | undefined;
  let preview: PreviewMessage | undefined;
  let lastLine = 0;
  let note = '';
  const draw = (): void => {
    if (tty) {
      const lines = [
        `${name} (${options.namespace})  ${note}`,
        progress ? progressBar(progress, Math.min(40, columns - 20)) : 'waiting for progress…',
      ];
      if (preview) lines.push('', ...renderMosaic(preview, columns));
      process.stdout.write(`\x1b[H\x1b[J${lines.join('\n')}\n`);
    } else if (progress && Date.now() - lastLine >= 1000) {
      lastLine = Date.now();
      process.stdout.write(`${progressBar(progress, 30)}\n`);
    }
  };
  const follower = followJob({
    ...target,
    onMessage: (message: JobServerMessage) => {
      if (message.type === 'progress') progress = message;
      else if (message.type === 'preview') preview = message;
      else return;
      draw();
    },
    onStatus: ({ connected, attempt, reason }) => {
      note = connected ? '' : `reconnecting (attempt ${attempt}: ${reason})`;
      if (tty) draw();
      else if (!connected) process.stderr.write(`kinfer watch: ${note}\n`);
    },
  });
  process.once('SIGINT', () => {
    follower.close();
    process.exit(130);
  });
  const end = await follower.done;
  if (end.type === 'completed') {
    if (!tty) process.stdout.write(`${progressBar(end.summary.progress, 30)}\n`);
    process.stdout.write(`${summaryLines(end.summary.progress, end.summary.result).join('\n')}\n`);
    process.exit(0);
  }
  if (end.type === 'error') {
    process.stdout.write(`job failed: ${end.code}: ${end.message}\n`);
    process.exit(1);
  }
}

type Target = { url: string; socket: import('ws').ClientOptions } | { finished: string; succeeded: boolean };

/** Where the stream is, from the InferenceJob's status; waits while the job has no endpoint yet. */
async function resolveTarget(name: string, namespace: string): Promise<Target> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const { KubeClient } = await import('../../kube/client.ts');
  const { InferenceJobs, resourcePath } = await import('../../kube/resources.ts');
  const { parseInferenceJob } = await import('../../api/index.ts');
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const client = new KubeClient(kc, { userAgent: 'kinfer-watch' });
  try {
    for (let waited = 0; ; waited++) {
      const ij = parseInferenceJob(
        await client.request('GET', resourcePath(InferenceJobs, { namespace, name })),
      );
      const status = ij.status ?? {};
      const succeeded = status.conditions?.find((c) => c.type === 'Succeeded');
      if (succeeded && succeeded.status !== 'Unknown') {
        const result =
          status.result?.accuracy !== undefined
            ? `, accuracy ${(status.result.accuracy * 100).toFixed(2)}%`
            : '';
        return {
          finished: `${name} ${status.phase}: ${succeeded.reason}: ${succeeded.message}${result}`,
          succeeded: succeeded.status === 'True',
        };
      }
      if (
        status.previewEndpoint &&
        status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
      ) {
        if (process.env.KUBERNETES_SERVICE_HOST) return { url: status.previewEndpoint, socket: {} };
        return proxyTarget(kc, namespace, name);
      }
      if (waited % 5 === 0) {
        const ready = status.conditions?.find((c) => c.type === 'Ready');
        process.stderr.write(
          `kinfer watch: waiting for ${name}: ${ready ? `${ready.reason}: ${ready.message}` : 'no status yet'}\n`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  } finally {
    client.close();
  }
}

/** The preview stream through the apiserver's service proxy, authenticated like kubectl. */
async function proxyTarget(
  kc: import('@kubernetes/client-node').KubeConfig,
  namespace: string,
  name: string,
): Promise<Target> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new UsageError('kubeconfig has no current cluster');
  const tls: import('node:https').RequestOptions = {};
  await kc.applyToHTTPSOptions(tls);
  const url = new URL(
    `/api/v1/namespaces/${encodeURIComponent(namespace)}/services/${name}-preview:8080/proxy/ws/jobs/${encodeURIComponent(name)}`,
    server,
  );
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(tls.headers ?? {}))
    if (value !== undefined) headers[key] = String(value);
  return {
    url: url.href,
    socket: {
      headers,
      ...(tls.ca ? { ca: tls.ca } : {}),
      ...(tls.cert ? { cert: tls.cert } : {}),
      ...(tls.key ? { key: tls.key } : {}),
      ...(tls.rejectUnauthorized !== undefined ? { rejectUnauthorized: tls.rejectUnauthorized } : {}),
    },
  };
}
