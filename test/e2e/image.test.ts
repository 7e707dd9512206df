import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { apply, e2eCluster, kubectl, useE2eNamespace, waitForPhase } from '../support/e2e.ts';
import { imageArchivePath } from '../support/node/images.ts';

const execFileAsync = promisify(execFile);

// The image built from the unchanged Dockerfile: what it says about itself, and that it runs.
describe('the kinfer image', () => {
  const namespace = useE2eNamespace('image');

  it('runs as a non-root user with `node bin/kinfer.js` (kinfer) as its entrypoint', async () => {
    const archive = imageArchivePath(e2eCluster().image);
    const manifest = JSON.parse((await execFileAsync('tar', ['-xOf', archive, 'manifest.json'])).stdout) as {
      Config: string;
    }[];
    const configFile = manifest[0]?.Config;
    expect(configFile).toBeTruthy();
    const config = JSON.parse(
      (await execFileAsync('tar', ['-xOf', archive, configFile as string])).stdout,
    ) as {
      config: { User?: string; Entrypoint?: string[]; Cmd?: string[] };
    };
    expect(config.config.User).toMatch(/^[1-9]\d*(:\d+)?$/);
    expect(config.config.Entrypoint).toEqual(['node', 'bin/kinfer.js']);
    expect(config.config.Cmd).toEqual(['runtime']);
  });

  it('`kinfer --help` runs in a pod on the real node, as a non-root user', async () => {
    const cluster = e2eCluster();
    await apply(namespace(), {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'help' },
      spec: {
        restartPolicy: 'Never',
        nodeSelector: cluster.node.nodeSelector,
        securityContext: { runAsNonRoot: true },
        containers: [{ name: 'kinfer', image: cluster.image, imagePullPolicy: 'Never', args: ['--help'] }],
      },
    });
    const pod = await waitForPhase(namespace(), 'help', 'Succeeded');
    expect(pod.spec?.nodeName).toBe(cluster.node.name);
    const logs = await kubectl(['logs', '-n', namespace(), 'help']);
    expect(logs).toMatch(/kinfer/);
    expect(logs).toMatch(/runtime/);
    expect(logs).toMatch(/operator/);
  });
});
