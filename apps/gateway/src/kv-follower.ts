import type { KV } from '@nats-io/kv';

export type KvOperation = 'PUT' | 'DEL' | 'PURGE';

/**
 * Loads a KV bucket and follows its changes, calling `apply` for each entry in order (`value`
 * is '' unless PUT). Resolves once what the bucket held at the start has been applied (or after
 * `fallbackMs`, should the watch not reach it); returns the function that stops following.
 */
export async function followKv(
  kv: KV,
  apply: (key: string, operation: KvOperation, value: string) => void,
  fallbackMs = 2_000,
): Promise<() => void> {
  const status = await kv.status();
  const lastRevision = status.streamInfo.state.last_seq;
  const watch = await kv.watch();
  let markLoaded: () => void = () => undefined;
  const loaded = new Promise<void>((done) => (markLoaded = done));
  const fallback = setTimeout(markLoaded, fallbackMs);
  if (lastRevision === 0) markLoaded();
  void (async () => {
    for await (const entry of watch) {
      apply(entry.key, entry.operation, entry.operation === 'PUT' ? entry.string() : '');
      if (entry.revision >= lastRevision) markLoaded();
    }
  })();
  await loaded;
  clearTimeout(fallback);
  return () => watch.stop();
}
