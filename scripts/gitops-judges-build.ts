// `npm run gitops:build`: builds the GitOps judges (test/gitops: Argo CD's health code and kstatus)
// into the cache, or reports the cached binary. One summary line.
import { ensureJudges } from '../test/support/gitops-judges.ts';

const started = Date.now();
try {
  const { binary, built } = await ensureJudges((path) =>
    process.stdout.write(
      `gitops-judges: building ${path} (Go from the module proxy; minutes on a cold cache)\n`,
    ),
  );
  process.stdout.write(
    built
      ? `gitops-judges: built ${binary} in ${Math.round((Date.now() - started) / 1000)} s\n`
      : `gitops-judges: cached ${binary}\n`,
  );
} catch (error) {
  process.stderr.write(`gitops-judges: ${(error as Error).message}\n`);
  process.exit(1);
}
