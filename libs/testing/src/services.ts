import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the backing services of a test run listen. */
export interface ServiceUrls {
  MONGO_URL: string;
  REDIS_URL: string;
  NATS_URL: string;
  /** A user with every permission of the installation's account (tests' own connections). */
  NATS_CREDS: string;
  /** The NATS authority (the deployer's NATS_AUTHORITY_FILE; tests mint identities with it). */
  NATS_AUTHORITY_FILE: string;
  SMTP_URL: string;
  /** Mailpit's HTTP API (read the mail a test sent). */
  MAILPIT_URL: string;
}

export interface RunningService {
  readonly name: string;
  readonly port: number;
  stop(): Promise<void>;
}

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

/** The cached binary of a Go-built tool (scripts/tools/build.sh builds it if it is missing). */
export function toolBinary(
  tool:
    | 'nats-server'
    | 'ferretdb'
    | 'mailpit'
    | 'grpcurl'
    | 'etcd'
    | 'kube-apiserver'
    | 'kube-controller-manager'
    | 'helm'
    | 'kubeconform',
): string {
  try {
    return execFileSync('bash', [join(repoRoot, 'scripts/tools/build.sh'), '--path', tool], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
  } catch {
    throw new Error(
      `${tool} is not available and could not be built: run scripts/tools/build.sh ${tool} and read its log`,
    );
  }
}

function redisBinary(): string {
  try {
    return execFileSync('bash', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(
      'redis-server is not installed: run `scripts/services install` (apt-get install redis-server)',
    );
  }
}

/*
 * Ports below Linux's ephemeral range (32768-60999): an outgoing connection of another test
 * never takes one between the moment it is picked and the moment a server binds it, which
 * `listen(0)` ports are exposed to (seen in CI: EADDRINUSE). The same rule as
 * libs/orchestrator's freePort; this file stays import-free because benchmarks load it
 * directly with Node.
 */
const handedOut = new Set<number>();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free TCP port on 127.0.0.1 that this process has not handed out before. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 1_000; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (handedOut.has(port) || !(await bindable(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('no free port between 20000 and 32000');
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

async function waitForPort(
  name: string,
  port: number,
  child: ChildProcess,
  output: () => string,
  timeoutMs = 60_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `${name} exited (${child.exitCode ?? child.signalCode}) before listening on ${port}:\n${output()}`,
      );
    }
    if (await canConnect(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(
    `${name} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms:\n${output()}`,
  );
}

async function launch(
  name: string,
  command: string,
  args: string[],
  port: number,
  dataDir: string,
): Promise<RunningService> {
  const child = spawn(command, args, { cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-8_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  await waitForPort(name, port, child, () => log);
  return {
    name,
    port,
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(timer);
          done();
        });
        child.kill('SIGTERM');
      }),
  };
}

/** A private Redis; pass `port` to bring one back where a stopped one was. */
/**
 * Redis demanding a password, as the dev stack's does: `url` carries it. The password is kept in
 * `dir` (a restart on the same folder and port keeps it), in a config file no command line shows.
 */
export async function startRedis(
  dir: string,
  port?: number,
): Promise<RunningService & { url: string }> {
  port ??= await freePort();
  const passwordFile = join(dir, 'redis.password');
  if (!existsSync(passwordFile))
    writeFileSync(passwordFile, randomBytes(18).toString('hex'), { mode: 0o600 });
  const password = readFileSync(passwordFile, 'utf8');
  const config = join(dir, 'redis.conf');
  writeFileSync(config, `requirepass ${password}\n`, { mode: 0o600 });
  const server = await launch(
    'redis',
    redisBinary(),
    [
      config,
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory-policy',
      'noeviction',
      '--protected-mode',
      'yes',
    ],
    port,
    dir,
  );
  return { ...server, url: `redis://:${password}@127.0.0.1:${port}` };
}

/** A NATS server with JetStream in operator mode: no anonymous connection is accepted. */
export async function startNats(
  dir: string,
): Promise<RunningService & { credentials: string; authorityFile: string }> {
  const port = await freePort();
  // Loaded by path (not imported), so this file stays loadable by Node alone (benchmarks).
  const auth = (await import(
    new URL('../../messaging/src/auth/nats-authority.ts', import.meta.url).href
  )) as typeof import('../../messaging/src/auth/nats-authority.js');
  const authority = auth.createNatsAuthority();
  const authorityFile = join(dir, 'authority.json');
  writeFileSync(authorityFile, JSON.stringify(authority), { mode: 0o600 });
  const credentials = join(dir, 'test.creds');
  const user = await auth.mintUser(authority, 'test', { pub: ['>'], sub: ['>'] });
  writeFileSync(credentials, user.creds, { mode: 0o600 });
  for (const sub of ['jetstream', 'resolver']) mkdirSync(join(dir, sub));
  const config = join(dir, 'nats.conf');
  writeFileSync(
    config,
    await auth.natsServerConfig(authority, {
      host: '127.0.0.1',
      port,
      storeDir: join(dir, 'jetstream'),
      resolverDir: join(dir, 'resolver'),
    }),
  );
  const server = await launch('nats-server', toolBinary('nats-server'), ['-c', config], port, dir);
  return { ...server, credentials, authorityFile };
}

/** FerretDB (SQLite in `dir`); pass `port` to bring one back where a stopped one was, with its data. */
export async function startFerretDb(dir: string, port?: number): Promise<RunningService> {
  port ??= await freePort();
  return launch(
    'ferretdb',
    toolBinary('ferretdb'),
    [
      '--handler=sqlite',
      `--sqlite-url=file:${dir}/`,
      `--listen-addr=127.0.0.1:${port}`,
      `--state-dir=${dir}`,
      '--telemetry=disable',
      '--debug-addr=-',
      '--log-level=WARN',
    ],
    port,
    dir,
  );
}

export async function startMailpit(
  dir: string,
): Promise<{ smtp: RunningService; httpPort: number }> {
  const [smtpPort, httpPort] = [await freePort(), await freePort()];
  const smtp = await launch(
    'mailpit',
    toolBinary('mailpit'),
    [
      '--smtp',
      `127.0.0.1:${smtpPort}`,
      '--listen',
      `127.0.0.1:${httpPort}`,
      '--database',
      join(dir, 'mailpit.db'),
      '--smtp-auth-accept-any',
      '--smtp-auth-allow-insecure',
      '--disable-version-check',
    ],
    smtpPort,
    dir,
  );
  return { smtp, httpPort };
}

/** Starts private Redis, NATS (JetStream), FerretDB and Mailpit instances on random loopback ports. */
export async function startServices(): Promise<{ urls: ServiceUrls; stop(): Promise<void> }> {
  const root = mkdtempSync(join(tmpdir(), 'kre-test-'));
  const sub = (name: string) => mkdtempSync(join(root, `${name}-`));
  const started: RunningService[] = [];
  const stopAll = async () => {
    await Promise.all(started.map((s) => s.stop()));
    rmSync(root, { recursive: true, force: true });
  };
  // allSettled: when one service fails to start, the others are still stopped.
  const results = await Promise.allSettled([
    startRedis(sub('redis')),
    startNats(sub('nats')),
    startFerretDb(sub('ferretdb')),
    startMailpit(sub('mailpit')).then((m) => ({ ...m.smtp, httpPort: m.httpPort })),
  ] as const);
  for (const result of results) if (result.status === 'fulfilled') started.push(result.value);
  const failures = results.filter((r) => r.status === 'rejected').map((r) => String(r.reason));
  if (failures.length > 0) {
    await stopAll();
    throw new Error(`backing services failed to start:\n${failures.join('\n')}`);
  }
  const [redis, nats, ferret, mail] = results.map(
    (r) => (r as PromiseFulfilledResult<RunningService>).value,
  );
  const redisUrl = (redis as RunningService & { url: string }).url;
  const natsAuth = nats as RunningService & { credentials: string; authorityFile: string };
  return {
    urls: {
      REDIS_URL: redisUrl,
      NATS_URL: `nats://127.0.0.1:${nats.port}`,
      NATS_CREDS: natsAuth.credentials,
      NATS_AUTHORITY_FILE: natsAuth.authorityFile,
      MONGO_URL: `mongodb://127.0.0.1:${ferret.port}/`,
      SMTP_URL: `smtp://127.0.0.1:${mail.port}`,
      MAILPIT_URL: `http://127.0.0.1:${(mail as RunningService & { httpPort: number }).httpPort}`,
    },
    stop: stopAll,
  };
}
