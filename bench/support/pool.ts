/**
 * Runs `work` over `items` with at most `concurrency` calls in flight: each of `concurrency`
 * workers takes the next item as soon as its previous one settles, so exactly that many requests
 * are in flight until the items run out. A failure rejects the whole pool.
 */
export async function pool<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}
