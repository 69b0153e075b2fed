import {
  credentials as grpcCredentials,
  loadPackageDefinition,
  Metadata,
  status as Status,
  type ServiceError,
} from '@grpc/grpc-js';
import { load } from '@grpc/proto-loader';
import type { Command } from 'commander';
import { unreachable } from '../cli/api-client.js';
import type { Cli, GlobalOptions } from '../cli/cli.js';
import { CliError, EXIT } from '../cli/exit-codes.js';
import { parseDuration, poll } from '../cli/wait.js';

interface CallOptions extends GlobalOptions {
  data: string;
  key?: string;
  versionName?: string;
  gateway?: string;
  grpc?: boolean;
  proto?: string;
  importPath: string[];
  wait?: boolean;
  timeout: string;
}

/** The gateway answers these while a route is not live yet (or a version still comes up). */
const NOT_READY = new Set([404, 502, 503]);

function parseData(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch (error) {
    throw new CliError(
      `-d is not JSON (${(error as Error).message}): e.g. -d '{"name": "Ada"}'`,
      EXIT.usage,
    );
  }
}

/** The runtime's (or a version's) address at the gateway: from the options, KRE_GATEWAY/KRE_GRPC, or the API. */
async function address(
  cli: Cli,
  options: CallOptions,
  runtimeId: string,
): Promise<{ http: string; grpc: string }> {
  const path = `/${encodeURIComponent(runtimeId)}${options.versionName ? `/versions/${encodeURIComponent(options.versionName)}` : ''}`;
  const gateway = options.gateway ?? cli.env.gateway;
  if (gateway && (!options.grpc || cli.env.grpc)) {
    return { http: `${gateway.replace(/\/+$/, '')}${path}`, grpc: cli.env.grpc ?? '' };
  }
  const client = await cli.client(options).catch((error: unknown) => {
    if (error instanceof CliError && error.exitCode === EXIT.unauthenticated) {
      throw new CliError(
        `${error.message}; or give the gateway's address without signing in: --gateway <url> or KRE_GATEWAY (and KRE_GRPC for --grpc)`,
        EXIT.unauthenticated,
      );
    }
    throw error;
  });
  const query = options.versionName
    ? 'query($r: ID!, $v: String!) { version(runtimeId: $r, name: $v) { entrypointAddress { http grpc } } }'
    : 'query($r: ID!) { runtime(id: $r) { entrypointAddress { http grpc } } }';
  const data = await client.graphql<{
    runtime?: { entrypointAddress: { http: string; grpc: string } };
    version?: { entrypointAddress: { http: string; grpc: string } | null };
  }>(query, { r: runtimeId, ...(options.versionName ? { v: options.versionName } : {}) });
  const found = data.runtime?.entrypointAddress ?? data.version?.entrypointAddress;
  if (!found)
    throw new CliError(
      `version ${options.versionName} is not running: start it first`,
      EXIT.conflict,
    );
  return {
    http: gateway ? `${gateway.replace(/\/+$/, '')}${path}` : found.http,
    grpc: cli.env.grpc ?? found.grpc,
  };
}

function refusal(status: number, body: string, key: string | undefined): CliError {
  let message = body.trim();
  try {
    const parsed = JSON.parse(body) as { message?: unknown; error?: unknown };
    const said = parsed.message ?? parsed.error;
    message = typeof said === 'string' ? said : body.trim();
  } catch {
    // not JSON: the text as sent
  }
  const text = `the gateway answered ${status}${message ? `: ${message}` : ''}`;
  if (status === 401 || status === 403) {
    return new CliError(
      `${text}${key ? " (is the key revoked, expired or another runtime's?)" : ': pass an invocation key with --key or KRE_INVOCATION_KEY (kre key create)'}`,
      EXIT.unauthenticated,
      'UNAUTHENTICATED',
    );
  }
  if (status === 404)
    return new CliError(
      `${text} (is a version published? kre version publish, or --version-name)`,
      EXIT.notFound,
      'NOT_FOUND',
    );
  if (status >= 400 && status < 500) return new CliError(text, EXIT.invalid, 'BAD_USER_INPUT');
  return new CliError(text, EXIT.failed, `HTTP_${status}`);
}

async function callHttp(
  url: string,
  body: string,
  key: string | undefined,
): Promise<{ status: number; text: string }> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
      body,
    });
    return { status: response.status, text: await response.text() };
  } catch (error) {
    throw unreachable('the gateway', url, error);
  }
}

/** One unary call through the gateway's gRPC port, routed by the kre-runtime metadata. */
async function callGrpc(
  options: CallOptions,
  target: string,
  runtimeId: string,
  rpc: string,
  request: unknown,
  key?: string,
): Promise<unknown> {
  if (!options.proto)
    throw new CliError(
      "--grpc needs the entrypoint's proto: --proto <file> [-I <dir>]",
      EXIT.usage,
    );
  const definition = await load(options.proto, {
    includeDirs: options.importPath,
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  }).catch((error: Error) => {
    throw new CliError(`cannot load ${options.proto}: ${error.message}`, EXIT.usage);
  });
  const services = Object.entries(definition).filter(
    ([, d]) => typeof d === 'object' && !('format' in d) && rpc in (d as object),
  );
  const [serviceName] =
    services.find(([name]) => name.endsWith('.Entrypoint') || name === 'Entrypoint') ??
    services[0] ??
    [];
  if (!serviceName)
    throw new CliError(`no service in ${options.proto} has an rpc ${rpc}`, EXIT.usage);
  let ctor: unknown = loadPackageDefinition(definition);
  for (const part of serviceName.split('.')) ctor = (ctor as Record<string, unknown>)[part];
  const Client = ctor as new (
    address: string,
    creds: ReturnType<typeof grpcCredentials.createInsecure>,
  ) => Record<
    string,
    (req: unknown, md: Metadata, cb: (error: ServiceError | null, res: unknown) => void) => void
  > & { close(): void };
  const client = new Client(target, grpcCredentials.createInsecure());
  const metadata = new Metadata();
  metadata.set('kre-runtime', runtimeId);
  if (options.versionName) metadata.set('kre-version', options.versionName);
  if (key) metadata.set('x-api-key', key);
  try {
    return await new Promise((resolve, reject) => {
      client[rpc](request, metadata, (error, response) =>
        error ? reject(error) : resolve(response),
      );
    });
  } finally {
    client.close();
  }
}

/** gRPC status → exit code. */
function grpcRefusal(error: ServiceError, target: string): CliError {
  const text = `gRPC call failed: ${error.details || error.message}`;
  const code = error.code;
  if (code === Status.UNAUTHENTICATED || code === Status.PERMISSION_DENIED) {
    return new CliError(
      `${text}: pass an invocation key with --key or KRE_INVOCATION_KEY`,
      EXIT.unauthenticated,
      'UNAUTHENTICATED',
    );
  }
  if (code === Status.NOT_FOUND || code === Status.UNIMPLEMENTED)
    return new CliError(text, EXIT.notFound, 'NOT_FOUND');
  if (code === Status.INVALID_ARGUMENT) return new CliError(text, EXIT.invalid, 'BAD_USER_INPUT');
  if (code === Status.UNAVAILABLE) {
    return new CliError(
      `cannot reach the gateway at ${target}: ${error.details}`,
      EXIT.unreachable,
      'UNREACHABLE',
    );
  }
  return new CliError(text, EXIT.failed, `GRPC_${error.code}`);
}

export function registerCallCommand(program: Command, cli: Cli): void {
  program
    .command('call <runtime> <rpc>')
    .description("call a runtime's published version (or --version-name) through the gateway")
    .option('-d, --data <json>', 'the request, as JSON (proto3 JSON over HTTP)', '{}')
    .option('-k, --key <key>', 'the invocation key (default: KRE_INVOCATION_KEY)')
    .option('--version-name <name>', 'call this started version instead of the published one')
    .option(
      '--gateway <url>',
      "the gateway's HTTP URL (default: KRE_GATEWAY, else the runtime's address from the API)",
    )
    .option('--grpc', 'call over gRPC (needs --proto) instead of HTTP/JSON')
    .option('--proto <file>', 'the entrypoint proto, for --grpc')
    .option(
      '-I, --import-path <dir>',
      'where --proto and its imports are (repeatable)',
      (dir: string, all: string[]) => [...all, dir],
      [] as string[],
    )
    .option('--wait', 'retry until the route is live (404, 502, 503 or unreachable), for --timeout')
    .option('--timeout <duration>', 'how long --wait retries', '30s')
    .addHelpText(
      'after',
      `
Prints the answer (JSON). Exit codes: 4 when the gateway wants a (valid) invocation key, 6 when
the runtime has no published version, 3 when the request is refused.

Examples:
  kre call demo Greet -d '{"name": "Ada"}' --key "$KRE_INVOCATION_KEY"
  kre call demo Greet -d '{"name": "Ada"}' --version-name greeter-v1
  kre call demo Greet -d '{"name": "Grace"}' --grpc -I examples/greeter --proto public_input.proto`,
    )
    .action(
      cli.action<[string, string], CallOptions>(async (options, runtimeId, rpc) => {
        const request = parseData(options.data);
        const key = options.key ?? cli.env.invocationKey;
        const target = await address(cli, options, runtimeId);
        const timeout = options.wait ? parseDuration(options.timeout) : 0;
        if (options.grpc) {
          if (!target.grpc)
            throw new CliError(
              "the gateway's gRPC address is unknown: set KRE_GRPC=<host:port>",
              EXIT.usage,
            );
          const response = await poll(`the route of ${runtimeId}`, timeout, async () => {
            try {
              return await callGrpc(options, target.grpc, runtimeId, rpc, request, key);
            } catch (error) {
              if (error instanceof CliError) throw error;
              const refused = grpcRefusal(error as ServiceError, target.grpc);
              if (
                options.wait &&
                (refused.exitCode === EXIT.notFound || refused.exitCode === EXIT.unreachable)
              )
                return undefined;
              throw refused;
            }
          });
          cli.io.out(JSON.stringify(response, null, options.json ? 2 : 0));
          return;
        }
        const url = `${target.http}/${encodeURIComponent(rpc)}`;
        const answer = await poll(`the route of ${runtimeId}`, timeout, async () => {
          try {
            const result = await callHttp(url, JSON.stringify(request), key);
            return options.wait && NOT_READY.has(result.status) ? undefined : result;
          } catch (error) {
            if (options.wait && error instanceof CliError && error.exitCode === EXIT.unreachable)
              return undefined;
            throw error;
          }
        });
        if (answer.status < 200 || answer.status >= 300)
          throw refusal(answer.status, answer.text, key);
        if (options.json) {
          try {
            cli.io.out(JSON.stringify(JSON.parse(answer.text), null, 2));
            return;
          } catch {
            // not JSON: print it as it came
          }
        }
        cli.io.out(answer.text);
      }),
    );
}
