// `npm run controlplane:build`: builds the test control-plane binary into the cache, or reports
// the cached one. Quiet: one summary line; on failure, the path and the tail of the build log.
import { ControlPlaneBuildError, ensureControlPlaneBinary } from '../test/support/controlplane-build.ts';

try {
  const result = await ensureControlPlaneBinary({
    onBuildStart: (logPath) => process.stdout.write(`controlplane: building (log: ${logPath})\n`),
  });
  const size = `${Math.round(result.sizeBytes / 1024 / 1024)} MiB`;
  process.stdout.write(
    result.built
      ? `controlplane: built ${result.binary} (${size}) in ${Math.round(result.elapsedMs / 1000)} s\n`
      : `controlplane: cached ${result.binary} (${size})\n`,
  );
} catch (error) {
  process.stderr.write(`controlplane: ${(error as Error).message}\n`);
  if (error instanceof ControlPlaneBuildError && error.logTail) process.stderr.write(`${error.logTail}\n`);
  process.exit(1);
}
