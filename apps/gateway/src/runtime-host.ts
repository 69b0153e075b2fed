/**
 * Routing by name: with a runtime domain (`GATEWAY_RUNTIME_DOMAIN`, e.g. `kre.example.com`), a call
 * whose HTTP `Host` or HTTP/2 `:authority` is `<runtimeId>.<domain>` goes to that runtime, so a
 * runtime's own address (its Ingress on Kubernetes, a DNS name on one machine) leads through the
 * gateway with the paths the entrypoint serves: `POST /<rpc>`, `POST /versions/<version>/<rpc>`.
 */
const SEGMENT = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** The runtime a `host[:port]` names under `domain`; undefined for any other host. */
export function runtimeOfHost(
  host: string | undefined,
  domain: string | undefined,
): string | undefined {
  if (!host || !domain) return undefined;
  const name = host.replace(/:\d+$/, '').replace(/\.$/, '').toLowerCase();
  const suffix = `.${domain.toLowerCase()}`;
  if (!name.endsWith(suffix)) return undefined;
  const label = name.slice(0, -suffix.length);
  return SEGMENT.test(label) ? label : undefined;
}
