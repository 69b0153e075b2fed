/**
 * The installation's NATS identities (docs/security.md, "NATS identities"); run with the
 * project's Node (node_modules/.bin/node), which runs TypeScript as is.
 *
 *   node scripts/nats-auth.ts server <dir> <port> <monitor-port> <store-dir>
 *                                    [--host <addr>] [--resolver-dir <dir>]
 *       Creates <dir>/authority.json (once; mode 0600) and writes <dir>/nats.conf: operator
 *       mode, a full account resolver (default <dir>/resolver), JetStream in <store-dir>,
 *       listening on <addr> (default 127.0.0.1). docker-compose.yml's NATS reads it with
 *       `--host 0.0.0.0 --resolver-dir /data/resolver` (paths inside the container).
 *   node scripts/nats-auth.ts engine <dir> <prefix>
 *       Writes <dir>/<app>.creds for each engine app of installation <prefix> (mode 0600), with
 *       the permissions the app has (libs/messaging/src/auth/nats-permissions.ts).
 *   node scripts/nats-auth.ts k8s-secret <prefix> <name> [namespace]
 *                                        [--authority <file>] [--resolver-dir <dir>]
 *       Prints (JSON) the Secret the Helm chart's nats.auth.existingSecret names: auth.conf (the
 *       NATS server's trust, included by its nats.conf; resolver under <dir>, default
 *       /data/resolver, the chart's NATS volume), authority.json (the deployer's) and
 *       <app>.creds for each engine app. A new authority unless --authority names an existing
 *       one (to mint the apps' credentials again without cutting off running versions).
 *
 * `engine` and `k8s-secret` read the names from the build (npm run build first).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

// By URL: Node runs the TypeScript sources as they are (they import packages only).
const source = (path: string) => new URL(`../${path}`, import.meta.url).href;
const authority = (await import(
  source('libs/messaging/src/auth/nats-authority.ts')
)) as typeof import('../libs/messaging/src/auth/nats-authority.js');

type Authority = ReturnType<typeof authority.createNatsAuthority>;

function loadAuthority(dir: string) {
  const file = join(dir, 'authority.json');
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify(authority.createNatsAuthority()), { mode: 0o600 });
  }
  return authority.parseNatsAuthority(readFileSync(file, 'utf8'));
}

/** The `.creds` text of each engine app of installation `prefix`. */
async function engineCreds(trust: Authority, prefix: string): Promise<Map<string, string>> {
  const messaging = (await import(
    source('libs/messaging/src/auth/nats-permissions.ts')
  )) as typeof import('../libs/messaging/src/auth/nats-permissions.js');
  // The names' class is not plain-strippable TypeScript: its build (scripts/start builds first).
  const namesBuild = source('dist/libs/naming/src/names.js');
  if (!existsSync(new URL(namesBuild))) fail('build the project first (npm run build)');
  const naming = (await import(namesBuild)) as typeof import('../libs/naming/src/names.js');
  const names = new naming.Names(prefix);
  const creds = new Map<string, string>();
  for (const app of messaging.ENGINE_APPS) {
    const user = await authority.mintUser(
      trust,
      `${prefix}-${app}`,
      messaging.enginePermissions(names, app),
    );
    creds.set(app, user.creds);
  }
  return creds;
}

const USAGE =
  'usage: node scripts/nats-auth.ts server <dir> <port> <monitor-port> <store-dir> [--host <addr>] [--resolver-dir <dir>]\n' +
  '       node scripts/nats-auth.ts engine <dir> <prefix>\n' +
  '       node scripts/nats-auth.ts k8s-secret <prefix> <name> [namespace] [--authority <file>] [--resolver-dir <dir>]\n';

function fail(message: string): never {
  process.stderr.write(`nats-auth: ${message}\n${USAGE}`);
  process.exit(64);
}

function parse() {
  try {
    return parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      options: {
        host: { type: 'string' },
        'resolver-dir': { type: 'string' },
        authority: { type: 'string' },
      },
    });
  } catch (error) {
    return fail((error as Error).message);
  }
}
const { positionals, values } = parse();
const [command, ...rest] = positionals;
const allowed = (...names: (keyof typeof values)[]) => {
  const extra = Object.keys(values).filter((name) => !names.includes(name as keyof typeof values));
  if (extra.length > 0) fail(`${command} takes no --${extra.join(', --')}`);
};

if (command === 'server' && rest.length === 4) {
  allowed('host', 'resolver-dir');
  const [dir, port, monitorPort, storeDir] = rest;
  const trust = loadAuthority(dir);
  const resolverDir = values['resolver-dir'] ?? join(dir, 'resolver');
  // Only a resolver on this machine is made here; a container makes its own in its volume.
  if (!values['resolver-dir']) mkdirSync(resolverDir, { recursive: true, mode: 0o700 });
  const config = await authority.natsServerConfig(trust, {
    host: values.host ?? '127.0.0.1',
    port: Number(port),
    monitorPort: Number(monitorPort),
    storeDir,
    resolverDir,
  });
  writeFileSync(join(dir, 'nats.conf'), config, { mode: 0o600 });
} else if (command === 'engine' && rest.length === 2) {
  allowed();
  const [dir, prefix] = rest;
  for (const [app, creds] of await engineCreds(loadAuthority(dir), prefix)) {
    writeFileSync(join(dir, `${app}.creds`), creds, { mode: 0o600 });
  }
} else if (command === 'k8s-secret' && (rest.length === 2 || rest.length === 3)) {
  allowed('authority', 'resolver-dir');
  const [prefix, name, namespace] = rest;
  // The chart's kre.prefix rule (values.schema.json): the identities' subjects derive from it.
  if (!/^[a-z](-?[a-z0-9])*$/.test(prefix) || prefix.length > 12) {
    fail(
      `"${prefix}" is not an installation prefix (lowercase letters, digits, single dashes, at most 12)`,
    );
  }
  for (const [what, value] of [
    ['name', name],
    ['namespace', namespace],
  ] as const) {
    if (value !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(value)) {
      fail(`the ${what} "${value}" is not a DNS label`);
    }
  }
  const trust = values.authority
    ? authority.parseNatsAuthority(readFileSync(values.authority, 'utf8'))
    : authority.createNatsAuthority();
  const files: Record<string, string> = {
    'auth.conf': await authority.natsAuthConfig(trust, {
      resolverDir: values['resolver-dir'] ?? '/data/resolver',
    }),
    'authority.json': JSON.stringify(trust),
  };
  for (const [app, creds] of await engineCreds(trust, prefix)) files[`${app}.creds`] = creds;
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      ...(namespace ? { namespace } : {}),
      labels: { 'app.kubernetes.io/part-of': 'kre', 'kre.io/installation': prefix },
    },
    type: 'Opaque',
    data: Object.fromEntries(
      Object.entries(files).map(([key, text]) => [key, Buffer.from(text).toString('base64')]),
    ),
  };
  process.stdout.write(`${JSON.stringify(secret, null, 2)}\n`);
} else {
  fail(command ? `wrong arguments for "${command}"` : 'no command');
}
