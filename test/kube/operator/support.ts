import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll } from 'vitest';
import { KubeClient } from '../../../src/kube/client.ts';
import { controllers } from '../../../src/operator/controllers.ts';
import { type ControllerSetup, Operator, type OperatorOptions } from '../../../src/operator/manager.ts';
import { defaultPredictorConfig } from '../../../src/operator/modeldeployment/desired.ts';
import { testKubeConfig, useTestNamespace } from '../../support/kube.ts';

const execFileAsync = promisify(execFile);
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** kubectl against the test cluster; rejects with kubectl's stderr. */
export async function kubectl(kubeconfig: string, args: string[], timeoutMs = 90_000): Promise<string> {
  try {
    const { stdout } = await execFileAsync('kubectl', ['--kubeconfig', kubeconfig, ...args], {
      timeout: timeoutMs,
    });
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`kubectl ${args.join(' ')}: ${stderr || (error as Error).message}`);
  }
}

/** A Kubernetes object as kubectl prints it, read field by field in assertions. */
// biome-ignore lint/suspicious/noExplicitAny: untyped JSON from kubectl
export type Json = any;

/** An object's status conditions by type. */
export const conditionsOf = (object: Json): Record<string, Json> =>
  Object.fromEntries((object.status?.conditions ?? []).map((c: Json) => [c.type, c]));

export async function kubectlJson<T = Json>(kubeconfig: string, args: string[]): Promise<T> {
  return JSON.parse(await kubectl(kubeconfig, [...args, '-o', 'json'])) as T;
}

/** Applies objects with kubectl server-side apply (as a user would), from JSON. */
export async function kubectlApply(kubeconfig: string, objects: object[]): Promise<void> {
  const { spawn: spawnChild } = await import('node:child_process');
  await new Promise<void>((resolvePromise, reject) => {
    const child = spawnChild('kubectl', ['--kubeconfig', kubeconfig, 'apply', '--server-side', '-f', '-'], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('exit', (code) =>
      code === 0 ? resolvePromise() : reject(new Error(`kubectl apply: ${stderr}`)),
    );
    child.stdin.end(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
  });
}

/** A ModelDeployment manifest: the builtin model, `replicas` pods. */
export function modelDeployment(name: string, namespace: string, spec: Record<string, unknown> = {}): object {
  return {
    apiVersion: 'kinfer.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name, namespace },
    spec: { model: { name: 'mnist-cnn', source: { builtin: 'mnist-cnn' } }, replicas: 1, ...spec },
  };
}

export const testPredictor = { ...defaultPredictorConfig, image: 'kinfer:test' };

/** What a test may set of the operator it starts; `setups` defaults to every controller. */
export type TestOperatorOptions = Partial<OperatorOptions> & { setups?: ControllerSetup[] };

/** The operator in this process, limited to the test's namespaces, health/metrics on a free port. */
export async function startOperator(
  kubeConfig: KubeConfig,
  options: TestOperatorOptions & { namespaces: string[] },
): Promise<Operator> {
  const { setups = controllers, ...rest } = options;
  const operator = new Operator(
    { kubeConfig, metricsPort: 0, metricsHost: '127.0.0.1', predictor: testPredictor, ...rest },
    setups,
  );
  await operator.start();
  return operator;
}

/**
 * The usual start of a kube test file: a namespace of its own and the operator in this process
 * watching it, started before the file's tests and stopped after them.
 */
export function useTestOperator(
  prefix: string,
  options: Omit<TestOperatorOptions, 'namespaces'> = {},
): { namespace: () => string; operator: () => Operator } {
  const namespace = useTestNamespace(prefix);
  let operator: Operator | undefined;
  beforeAll(async () => {
    operator = await startOperator(testKubeConfig(), { ...options, namespaces: [namespace()] });
  });
  afterAll(async () => {
    await operator?.stop();
  });
  return {
    namespace,
    operator: () => {
      if (!operator) throw new Error('useTestOperator: the operator runs only inside tests');
      return operator;
    },
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePromise(port));
    });
  });
}

/** `kinfer operator` as its own process (what a Deployment runs), logs kept for failure messages. */
export class OperatorProcess {
  readonly child: ChildProcess;
  logs = '';
  readonly exited: Promise<number | null>;

  constructor(
    kubeconfig: string,
    readonly metricsPort: number,
    args: string[],
    env: Record<string, string> = {},
  ) {
    this.child = spawn(
      process.execPath,
      [
        resolve(repoRoot, 'bin/kinfer.js'),
        'operator',
        '--metrics-port',
        String(metricsPort),
        '--metrics-host',
        '127.0.0.1',
        ...args,
      ],
      {
        env: {
          ...process.env,
          KUBECONFIG: kubeconfig,
          KINFER_IMAGE: 'kinfer:test',
          KINFER_LOG_LEVEL: 'info',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const keep = (chunk: Buffer) => {
      this.logs = (this.logs + chunk.toString()).slice(-20_000);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolvePromise) => this.child.on('exit', (code) => resolvePromise(code)));
  }

  async get(path: string): Promise<{ status: number; body: string }> {
    const response = await fetch(`http://127.0.0.1:${this.metricsPort}${path}`);
    return { status: response.status, body: await response.text() };
  }

  /** The value of an unlabelled metric (or the sum over a labelled one's series matching `labels`). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
    const { body } = await this.get('/metrics');
    let total: number | undefined;
    for (const line of body.split('\n')) {
      if (!line.startsWith(name)) continue;
      const match = /^([a-z_]+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
      if (!match || match[1] !== name) continue;
      const set = match[2] ?? '';
      if (Object.entries(labels).every(([key, value]) => set.includes(`${key}="${value}"`))) {
        total = (total ?? 0) + Number(match[3]);
      }
    }
    return total;
  }

  async isLeader(): Promise<boolean> {
    try {
      return (await this.metric('kinfer_operator_leader')) === 1;
    } catch {
      return false;
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** A client that counts nothing: for reading objects in assertions. */
export const readClient = (kubeConfig: KubeConfig): KubeClient => new KubeClient(kubeConfig);

export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  { timeoutMs = 60_000, intervalMs = 250 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
