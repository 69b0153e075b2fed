/**
 * Routing by name: a call whose HTTP `Host` or HTTP/2 `:authority` matches one of the runtime
 * host patterns (`GATEWAY_RUNTIME_HOSTS`, each with one `*` standing for the runtime id, e.g.
 * `*.kre.example.com` or `entrypoint.kre-*.svc`) goes to that runtime, with the paths the
 * entrypoint serves (`POST /<rpc>`, `POST /versions/<version>/<rpc>`). So a runtime's own
 * addresses (its Ingress and stable Service on Kubernetes, a DNS name on one machine) lead
 * through the gateway, where keys, limits and the wake-up apply.
 */
const SEGMENT = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const PATTERN = /^[a-z0-9.-]*\*[a-z0-9.-]*$/;

/** Parsed `GATEWAY_RUNTIME_HOSTS`: `[before, after]` the `*` of each pattern. */
export type RuntimeHostPatterns = readonly (readonly [string, string])[];

/** @throws naming the pattern that is not a host with exactly one `*` */
export function runtimeHostPatterns(list: string | undefined): RuntimeHostPatterns {
  return (list ?? '')
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .filter(Boolean)
    .map((pattern) => {
      if (!PATTERN.test(pattern))
        throw new Error(`runtime host pattern "${pattern}" must be a host name with one "*"`);
      const star = pattern.indexOf('*');
      return [pattern.slice(0, star), pattern.slice(star + 1)] as const;
    });
}

/** The runtime a `host[:port]` names by one of `patterns`; undefined for any other host. */
export function runtimeOfHost(
  host: string | undefined,
  patterns: RuntimeHostPatterns,
): string | undefined {
  if (!host || patterns.length === 0) return undefined;
  const name = host.replace(/:\d+$/, '').replace(/\.$/, '').toLowerCase();
  for (const [before, after] of patterns) {
    if (name.length <= before.length + after.length) continue;
    if (!name.startsWith(before) || !name.endsWith(after)) continue;
    const label = name.slice(before.length, name.length - after.length);
    if (SEGMENT.test(label)) return label;
  }
  return undefined;
}
