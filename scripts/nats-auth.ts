/**
 * The dev stack's NATS identities (docs/security.md, "NATS identities"); run with the project's
 * Node (node_modules/.bin/node), which runs TypeScript as is.
 *
 *   node scripts/nats-auth.ts server <dir> <port> <monitor-port> <store-dir>
 *       Creates <dir>/authority.json (once; mode 0600) and writes <dir>/nats.conf: operator
 *       mode, a full account resolver under <dir>/resolver, JetStream in <store-dir>.
 *   node scripts/nats-auth.ts engine <dir> <prefix>
 *       Writes <dir>/<app>.creds for each engine app of installation <prefix> (mode 0600), with
 *       the permissions the app has (libs/messaging/src/auth/nats-permissions.ts).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// By URL: Node runs the TypeScript sources as they are (they import packages only).
const source = (path: string) => new URL(`../${path}`, import.meta.url).href;
const authority = (await import(
  source('libs/messaging/src/auth/nats-authority.ts')
)) as typeof import('../libs/messaging/src/auth/nats-authority.js');

function loadAuthority(dir: string) {
  const file = join(dir, 'authority.json');
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify(authority.createNatsAuthority()), { mode: 0o600 });
  }
  return authority.parseNatsAuthority(readFileSync(file, 'utf8'));
}

const [command, dir, ...rest] = process.argv.slice(2);
if (command === 'server' && dir && rest.length === 3) {
  const [port, monitorPort, storeDir] = rest;
  const resolverDir = join(dir, 'resolver');
  mkdirSync(resolverDir, { recursive: true, mode: 0o700 });
  const config = await authority.natsServerConfig(loadAuthority(dir), {
    host: '127.0.0.1',
    port: Number(port),
    monitorPort: Number(monitorPort),
    storeDir,
    resolverDir,
  });
  writeFileSync(join(dir, 'nats.conf'), config, { mode: 0o600 });
} else if (command === 'engine' && dir && rest.length === 1) {
  const [prefix] = rest;
  const messaging = (await import(
    source('libs/messaging/src/auth/nats-permissions.ts')
  )) as typeof import('../libs/messaging/src/auth/nats-permissions.js');
  // The names' class is not plain-strippable TypeScript: its build (scripts/start builds first).
  const naming = (await import(
    source('dist/libs/naming/src/names.js')
  )) as typeof import('../libs/naming/src/names.js');
  const trust = loadAuthority(dir);
  const names = new naming.Names(prefix);
  for (const app of messaging.ENGINE_APPS) {
    const { creds } = await authority.mintUser(
      trust,
      `${prefix}-${app}`,
      messaging.enginePermissions(names, app),
    );
    writeFileSync(join(dir, `${app}.creds`), creds, { mode: 0o600 });
  }
} else {
  process.stderr.write(
    'usage: node scripts/nats-auth.ts server <dir> <port> <monitor-port> <store-dir>\n' +
      '       node scripts/nats-auth.ts engine <dir> <prefix>\n',
  );
  process.exit(64);
}
