// `npm run image:build`: builds the kinfer image from the Dockerfile (and the base image it needs)
// into ~/.cache/kinfer/images, or reports the cached one. One summary line; on failure the tail of
// the build log.
import { repoRoot } from '../test/support/controlplane.ts';
import { ensureKinferImage } from '../test/support/node/images.ts';

try {
  const image = await ensureKinferImage({
    repoRoot,
    log: (line) => process.stdout.write(`image: ${line}\n`),
  });
  process.stdout.write(
    image.built
      ? `image: built ${image.ref} (Node ${image.nodeVersion}) in ${Math.round(image.elapsedMs / 1000)} s: ${image.archive}\n`
      : `image: cached ${image.ref} (Node ${image.nodeVersion}): ${image.archive}\n`,
  );
} catch (error) {
  process.stderr.write(`image: ${(error as Error).message}\n`);
  process.exit(1);
}
