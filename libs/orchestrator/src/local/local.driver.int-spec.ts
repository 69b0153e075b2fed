import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { type AddressInfo, type Server, connect, createServer } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import type { Krt } from '@libs/krt';
import { planVersionResources } from '@libs/messaging';
import { Names } from '@libs/naming';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plan, type DeploymentPlan, type WorkloadSpec } from '../deployment-plan.js';
import { LocalDriver, type LocalDriverOptions, OWNER_ENV } from './local.driver.js';
import { descendants, isSameProcess, processStartTime } from './proc.js';
import { runtimeIds } from './sandbox.js';
import { WorkloadNetworks } from './workload-network.js';

/**
 * A stand-in workload program (run in the sandbox, so it reports on stdout, which the driver
 * captures in the replica's log): serves /readyz on KRT_HEALTH_PORT, prints its env, uid and the
 * sha256 of each config file it reads, prints `SIGTERM {id, at}` and `DRAINED` on SIGTERM (the
 * entrypoint then takes 300 ms to end, as a real one finishes its requests), exits at once when the KRT
 * says so (a "failing node program"), and attacks when the KRT is the hostile one.
 */
const FAKE_PROGRAM = `
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as connect_ } from 'node:net';
const base = process.env.KRT_BASE_PATH;
if (existsSync(join(base, 'crash-' + process.env.KRT_NODE_ID))) { console.error('boom: handler failed to load'); process.exit(3); }
const dir = process.env.KRT_CONFIG_FILES_DIR;
const files = Object.fromEntries(readdirSync(dir).map((f) => [f, createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')]));
console.log('START ' + JSON.stringify({ id: process.env.KRT_NODE_ID ?? 'entrypoint', pid: process.pid, uid: process.getuid(), gid: process.getgid(), env: process.env, files }));
if (existsSync(join(base, 'hostile'))) {
  const probe = (f) => { try { return { ok: f() ?? true }; } catch (e) { return { error: e.code ?? String(e) }; } };
  const { ENGINE_PID, VICTIM_PIDS, OTHER_KRTS, OTHER_CONFIG, STATE_DIR, ENGINE_FILE } = process.env;
  const report = {
    uid: process.getuid(),
    engineEnviron: probe(() => readFileSync('/proc/' + ENGINE_PID + '/environ', 'latin1')),
    signalEngine: probe(() => process.kill(Number(ENGINE_PID), 0)),
    signalVictims: VICTIM_PIDS.split(',').map((pid) => probe(() => process.kill(Number(pid), 'SIGKILL'))),
    victimEnviron: VICTIM_PIDS.split(',').map((pid) => probe(() => readFileSync('/proc/' + pid + '/environ', 'latin1'))),
    processes: readdirSync('/proc').filter((n) => /^\\d+$/.test(n)).length,
    otherKrts: OTHER_KRTS.split(',').map((krt) => probe(() => readFileSync(join(krt, 'kre.yaml'), 'utf8'))),
    otherConfig: probe(() => readdirSync(OTHER_CONFIG)),
    ownRegistry: probe(() => readFileSync(join(base, '..', 'registry.json'), 'utf8')),
    ownLogs: probe(() => readdirSync(join(base, '..', 'logs'))),
    stateDir: probe(() => readdirSync(STATE_DIR)),
    runtimes: probe(() => readdirSync(join(STATE_DIR, 'versions'))),
    versions: probe(() => readdirSync(join(base, '..', '..'))),
    engineFile: probe(() => readFileSync(ENGINE_FILE, 'utf8')),
    writeKrt: probe(() => writeFileSync(join(base, 'kre.yaml'), 'evil')),
    writeConfig: probe(() => writeFileSync(join(dir, 'MODEL_CONFIG'), 'evil')),
    writeTmp: probe(() => writeFileSync('/tmp/mine', 'x')),
    writeShm: probe(() => writeFileSync('/dev/shm/sem.mine', 'x')),
    writeHome: probe(() => writeFileSync(join(process.env.HOME, '.rc'), 'x')),
  };
  console.log('REPORT ' + JSON.stringify(report));
  // The network: NATS (its own URL) is reachable; the machine's other services, its loopback,
  // another runtime's workload and the internet are not; what it listens on is its own.
  const connect = (host, port) => new Promise((resolve) => {
    const socket = connect_(port, host);
    socket.setTimeout(1500, () => { socket.destroy(); resolve({ error: 'TIMEOUT' }); });
    socket.once('data', (data) => { socket.destroy(); resolve({ ok: String(data).trim() }); });
    socket.once('error', (e) => resolve({ error: e.code }));
  });
  const nats = new URL(process.env.KRT_NATS_SERVER);
  const { SERVICE_PORT, VICTIM_ADDRESS, LISTEN_PORT } = process.env;
  const [victimHost, victimPort] = VICTIM_ADDRESS.split(':');
  createServer((req, res) => res.end('reached')).listen(Number(LISTEN_PORT), '0.0.0.0', async () => {
    const network = {
      nats: await connect(nats.hostname, Number(nats.port)),
      serviceOnLoopback: await connect('127.0.0.1', Number(SERVICE_PORT)),
      serviceThroughHost: await connect(nats.hostname, Number(SERVICE_PORT)),
      victim: await connect(victimHost, Number(victimPort)),
      internet: await connect('1.1.1.1', 80),
    };
    console.log('NETWORK ' + JSON.stringify(network));
  });
}
createServer((req, res) => { res.statusCode = req.url === '/readyz' ? 200 : 404; res.end('ok'); })
  .listen(Number(process.env.KRT_HEALTH_PORT), process.env.KRT_LISTEN_HOST ?? '127.0.0.1');
process.on('SIGTERM', () => {
  const id = process.env.SECRET_TOKEN ? 'entrypoint' : process.env.KRT_NODE_ID;
  console.log('SIGTERM ' + JSON.stringify({ id, at: Date.now() }));
  console.log('DRAINED ' + process.pid);
  // The entrypoint finishes its requests in progress first (here: 300 ms).
  setTimeout(() => process.exit(0), id === 'entrypoint' ? 300 : 0);
});
`;

function workload(id: string, extra: Partial<WorkloadSpec> = {}): WorkloadSpec {
  return {
    id,
    role: id === 'entrypoint' ? 'entrypoint' : 'node',
    program: id === 'entrypoint' ? 'entrypoint' : 'runner',
    image: 'x',
    replicas: 1,
    gpu: false,
    ports: id === 'entrypoint' ? ['grpc', 'http', 'health'] : ['health'],
    env: id === 'entrypoint' ? { SECRET_TOKEN: 's3cret' } : { KRT_NODE_ID: id.split('.')[1] },
    configFiles: { MODEL_CONFIG: '{"threshold":0.5}' },
    labels: {},
    k8sName: `v-${id}`,
    specHash: `${id}-1`,
    ...extra,
  };
}

function planOf(
  versionName: string,
  workloads: WorkloadSpec[],
  runtimeId = 'demo',
): DeploymentPlan {
  return {
    prefix: 'kre',
    runtimeId,
    versionName,
    workloads,
    resources: planVersionResources(new Names('kre'), runtimeId, versionName, []),
    krtBucket: `kre_${runtimeId}_krt`,
    routes: {},
  };
}

/** The range every test driver gives its runtimes' uids from. */
const SANDBOX = { uid: 64_000, gid: 64_000, range: 1_000 };
/** Root: each replica in a network namespace of its own (workload-network.ts). */
const asRoot = process.getuid?.() === 0;

/** A TCP service on the machine's loopback that greets whoever connects with `greeting`. */
async function loopbackService(greeting: string): Promise<Server> {
  const server = createServer((socket) => socket.end(`${greeting}\n`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
const portOf = (server: Server) => (server.address() as AddressInfo).port;

describe(LocalDriver.name, () => {
  let root: string;
  let stateDir: string;
  let program: string;
  /** Stands for NATS (what workloads may reach) and for Redis (what they may not). */
  let nats: Server;
  let service: Server;
  const drivers: LocalDriver[] = [];
  /** KRT fetches per version, by every driver of the test. */
  const fetches = new Map<string, number>();
  const makeDriver = (extra: Partial<LocalDriverOptions> = {}) => {
    const driver = new LocalDriver({
      stateDir,
      prefix: 'kre',
      nodeBinary: process.execPath,
      programs: { entrypoint: program, runner: program },
      fetchKrt: async (plan, dest) => {
        fetches.set(plan.versionName, (fetches.get(plan.versionName) ?? 0) + 1);
        await mkdir(dest, { recursive: true });
        await writeFile(join(dest, 'kre.yaml'), 'version: v1\n');
        // The "bad" version's node program fails as soon as it starts.
        if (plan.versionName === 'bad') await writeFile(join(dest, 'crash-broken'), '');
        if (plan.versionName === 'evil') await writeFile(join(dest, 'hostile'), '');
      },
      stopGraceMs: 2_000,
      tickMs: 100,
      baseEnv: { PATH: process.env.PATH ?? '' },
      sandbox: { ...SANDBOX, programFiles: [], hostPath: process.env.PATH },
      network: asRoot
        ? new WorkloadNetworks({ subnet: '10.213.0.0/16', natsPort: portOf(nats) })
        : undefined,
      ...extra,
    });
    drivers.push(driver);
    return driver;
  };
  /** Every line starting with `tag ` in the version's logs, parsed. */
  const logged = async <T>(versionName: string, tag: string, runtimeId = 'demo'): Promise<T[]> => {
    const logs = join(stateDir, 'versions', runtimeId, versionName, 'logs');
    const lines: T[] = [];
    for (const file of await readdir(logs).catch(() => [] as string[])) {
      for (const line of (await readFile(join(logs, file), 'utf8')).split('\n')) {
        if (line.startsWith(`${tag} `)) lines.push(JSON.parse(line.slice(tag.length + 1)) as T);
      }
    }
    return lines;
  };
  const starts = (versionName: string, runtimeId = 'demo') =>
    logged<{
      id: string;
      pid: number;
      uid: number;
      gid: number;
      env: Record<string, string>;
      files: Record<string, string>;
    }>(versionName, 'START', runtimeId);
  const alive = async (pid: number) => (await processStartTime(pid)) !== null;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'kre-local-driver-'));
    stateDir = join(root, 'state');
    program = join(root, 'fake-workload.mjs');
    await writeFile(program, FAKE_PROGRAM);
    nats = await loopbackService('INFO nats');
    service = await loopbackService('redis');
  });
  afterAll(async () => {
    for (const driver of drivers) await driver.close();
    await makeDriver().adopt(); // kills anything left with our marker
    for (const ver of ['v1', 'v2', 'bad', 'big', 'lost', 'evil', 'packed', 'pinned'])
      await drivers.at(-1)!.stop('demo', ver);
    await drivers.at(-1)!.stop('other', 'v1');
    await rm(root, { recursive: true, force: true });
    nats.close();
    service.close();
  });

  it('starts every replica with the workload env, its own ports and config files, and reports ready', async () => {
    const sut = makeDriver();
    await sut.adopt();
    await sut.apply(planOf('v1', [workload('entrypoint'), workload('wf.etl', { replicas: 2 })]));
    await sut.waitReady('demo', 'v1', 10_000);

    const started = await starts('v1');
    expect(started.map((s) => s.id).sort()).toEqual(['entrypoint', 'etl', 'etl']);
    const entry = started.find((s) => s.id === 'entrypoint')!;
    expect(entry.env).toMatchObject({ SECRET_TOKEN: 's3cret', [OWNER_ENV]: `kre@${stateDir}` });
    expect(entry.env.KRT_BASE_PATH).toBe(join(stateDir, 'versions/demo/v1/krt'));
    // The deployer's own environment (database URLs, …) never reaches a workload.
    expect(Object.keys(entry.env).filter((k) => /MONGO|REDIS/.test(k))).toEqual([]);
    expect(await readFile(join(entry.env.KRT_CONFIG_FILES_DIR, 'MODEL_CONFIG'), 'utf8')).toBe(
      '{"threshold":0.5}',
    );
    const ports = started.flatMap((s) =>
      ['KRT_GRPC_PORT', 'KRT_HTTP_PORT', 'KRT_HEALTH_PORT'].map((k) => s.env[k]).filter(Boolean),
    );
    expect(new Set(ports).size).toBe(ports.length);

    const endpoints = await sut.endpoints('demo', 'v1');
    expect(endpoints).toEqual({
      http: `${entry.env.KRT_LISTEN_HOST ?? '127.0.0.1'}:${entry.env.KRT_HTTP_PORT}`,
      grpc: `${entry.env.KRT_LISTEN_HOST ?? '127.0.0.1'}:${entry.env.KRT_GRPC_PORT}`,
    });
    expect((await sut.status('demo', 'v1')).map((s) => s.state)).toEqual([
      'RUNNING',
      'RUNNING',
      'RUNNING',
    ]);
  });

  it('restarts a crashed replica and reports the restart', async () => {
    const sut = drivers[0];
    const victim = (await sut.status('demo', 'v1')).find((s) => s.workloadId === 'wf.etl')!;
    process.kill(victim.pid!, 'SIGKILL');
    await expect
      .poll(
        async () =>
          (await sut.status('demo', 'v1')).find(
            (s) => s.workloadId === 'wf.etl' && s.replica === victim.replica,
          ),
        { timeout: 10_000 },
      )
      .toMatchObject({ state: 'RUNNING', restarts: 1 });
    await sut.waitReady('demo', 'v1', 10_000);
  });

  it('survives the deployer: a new driver adopts the running workloads without duplicating them, and kills unknown ones', async () => {
    const before = (await drivers[0].status('demo', 'v1')).map((s) => s.pid);
    await drivers[0].close(); // the old deployer is gone (as after SIGKILL: nothing was stopped)

    // A stray process carrying our marker but in no registry.
    const stray = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
      env: { [OWNER_ENV]: `kre@${stateDir}` },
      detached: true,
      stdio: 'ignore',
    });
    stray.unref();
    const strayStart = await processStartTime(stray.pid!);

    const sut = makeDriver();
    await sut.adopt();
    expect((await sut.status('demo', 'v1')).map((s) => s.pid)).toEqual(before);
    await expect.poll(() => isSameProcess(stray.pid!, strayStart!), { timeout: 5_000 }).toBe(false);
    expect((await starts('v1')).length).toBe(4); // 3 starts + 1 restart: no new processes
  });

  it('replaces only the workloads whose spec changed', async () => {
    const sut = drivers.at(-1)!;
    const before = await sut.status('demo', 'v1');
    const addressOf = async (replica: string) =>
      (await starts('v1'))
        .filter((st) => st.id === 'etl' && st.env.KRE_WORKLOAD_REPLICA === replica)
        .map((st) => `${st.env.KRT_LISTEN_HOST ?? '127.0.0.1'}:${st.env.KRT_HEALTH_PORT}`);
    const [addressBefore] = await addressOf('0');
    /** The host's end of the replica's veth pair (`<ifindex>: <name>`): made again, it changes. */
    const hostEnd = async () => {
      const [first] = (await starts('v1')).filter(
        (st) => st.id === 'etl' && st.env.KRE_WORKLOAD_REPLICA === '0',
      );
      const host = new URL(first.env.KRT_NATS_SERVER ?? 'nats://127.0.0.1').hostname;
      return execFileSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' })
        .split('\n')
        .find((line) => line.includes(` ${host}/30 `))
        ?.split(/\s+/)
        .slice(0, 2)
        .join(' ');
    };
    const linkBefore = asRoot ? await hostEnd() : undefined;
    await sut.apply(
      planOf('v1', [
        workload('entrypoint'),
        workload('wf.etl', { replicas: 2, specHash: 'wf.etl-2' }),
      ]),
    );
    await sut.waitReady('demo', 'v1', 10_000);
    const after = await sut.status('demo', 'v1');
    expect(after[0].pid).toBe(before[0].pid);
    expect(after[1].pid).not.toBe(before[1].pid);
    expect(await alive(before[1].pid!)).toBe(false);
    // Graceful: SIGTERM reached both replaced programs inside their sandboxes (bwrap forwards
    // none), and each drained and exited before the grace period ended.
    const logs = join(stateDir, 'versions/demo/v1/logs');
    for (const replica of [0, 1]) {
      expect(await readFile(join(logs, `wf.etl-${replica}.log`), 'utf8')).toMatch(/^DRAINED \d+$/m);
    }
    // The replaced replica's successor has its address and ports (routes to it stay valid), and
    // that address still leads to it: its network was carried over, not released.
    const addresses = await addressOf('0');
    expect(addresses.length).toBeGreaterThanOrEqual(2);
    expect(new Set(addresses)).toEqual(new Set([addressBefore]));
    const [host, port] = addressBefore.split(':');
    const answer = await fetch(`http://${host}:${port}/readyz`);
    expect(answer.status).toBe(200);
    if (asRoot) {
      expect(linkBefore).toMatch(/^\d+: krn\d+$/);
      expect(await hostEnd()).toBe(linkBefore); // the same link, never deleted in between
    }
  });

  it('releases every process of a version (scale to zero) and resumes it at the same addresses, also after a restart', async () => {
    const sut = drivers.at(-1)!;
    const before = await sut.status('demo', 'v1');
    const endpoints = await sut.endpoints('demo', 'v1');
    const releasedAt = Date.now();
    expect(await sut.release('demo', 'v1')).toBe(3);
    for (const replica of before) expect(await alive(replica.pid!)).toBe(false);
    // The entrypoint ended first (it drains with its nodes still running), then the runners.
    const terms = (await logged<{ id: string; at: number }>('v1', 'SIGTERM')).filter(
      (t) => t.at >= releasedAt,
    );
    const entrypointAt = terms.find((t) => t.id === 'entrypoint')!.at;
    const runners = terms.filter((t) => t.id !== 'entrypoint');
    expect(runners).toHaveLength(2);
    for (const runner of runners) expect(runner.at).toBeGreaterThanOrEqual(entrypointAt + 300);
    expect((await sut.status('demo', 'v1')).map((s) => s.state)).toEqual([
      'STOPPED',
      'STOPPED',
      'STOPPED',
    ]);
    expect(await sut.endpoints('demo', 'v1')).toEqual(endpoints); // routes to it stay valid
    expect(await sut.release('demo', 'v1')).toBe(3); // idempotent
    // A plan applied while released (a config change while asleep) starts nothing; the resume
    // below runs it.
    const startsAsleep = (await starts('v1')).length;
    await sut.apply(
      planOf('v1', [
        workload('entrypoint'),
        workload('wf.etl', {
          replicas: 2,
          specHash: 'wf.etl-asleep',
          env: { KRT_NODE_ID: 'etl', GREETING: 'changed while asleep' },
        }),
      ]),
      { released: true },
    );
    expect((await sut.status('demo', 'v1')).map((s) => s.state)).toEqual([
      'STOPPED',
      'STOPPED',
      'STOPPED',
    ]);
    expect((await starts('v1')).length).toBe(startsAsleep);
    // Supervision leaves a released version alone, and a new deployer does not start it.
    await sut.close();
    const next = makeDriver();
    await next.adopt();
    expect((await next.status('demo', 'v1')).every((s) => s.state === 'STOPPED')).toBe(true);
    const started = (await starts('v1')).length;
    expect(await next.resume('demo', 'v1')).toBe(3);
    await next.waitReady('demo', 'v1', 10_000);
    const after = await next.status('demo', 'v1');
    expect(after.map((s) => s.state)).toEqual(['RUNNING', 'RUNNING', 'RUNNING']);
    expect(after.map((s) => s.restarts)).toEqual([0, 0, 0]);
    expect((await starts('v1')).length).toBe(started + 3);
    // Both etl replicas started with the plan applied while asleep.
    const changed = (await starts('v1')).filter((s) => s.env.GREETING === 'changed while asleep');
    expect(changed.map((s) => s.id)).toEqual(['etl', 'etl']);
    expect(await next.endpoints('demo', 'v1')).toEqual(endpoints);
    await next.resume('demo', 'v1'); // idempotent: nothing more starts
    expect((await next.status('demo', 'v1')).map((s) => s.pid)).toEqual(after.map((s) => s.pid));
    await expect(next.resume('demo', 'nothing')).rejects.toThrow(
      'version "nothing" of runtime "demo" has no workloads here to resume',
    );
  });

  it('stops every process of a version and forgets it', async () => {
    const sut = drivers.at(-1)!;
    const pids = (await sut.status('demo', 'v1')).map((s) => s.pid!);
    await sut.stop('demo', 'v1');
    for (const pid of pids) expect(await alive(pid)).toBe(false);
    expect(await sut.status('demo', 'v1')).toEqual([]);
    expect(await sut.endpoints('demo', 'v1')).toBeNull();
    await sut.stop('demo', 'v1'); // idempotent
  });

  it('starts the workloads of a plan with a 1 MiB config file, which they read from KRT_CONFIG_FILES_DIR', async () => {
    // Linux refuses one env string over 128 KiB at exec (E2BIG): such a file must stay out of env.
    const big = randomBytes(512 * 1024).toString('hex'); // 1 MiB, the largest value the API takes
    const small = '{"threshold":0.5}';
    const sut = drivers.at(-1)!;
    await sut.apply(
      plan({
        prefix: 'kre',
        runtimeId: 'demo',
        krt: oneNodeKrt('big'),
        natsUrl: 'nats://127.0.0.1:4222',
        config: { variables: { GREETING: 'hi' }, files: { MODEL_WEIGHTS: big, RULES: small } },
        requestTimeoutSeconds: 30,
      }),
    );
    await sut.waitReady('demo', 'big', 20_000);

    const started = await starts('big');
    expect(started.map((s) => s.id).sort()).toEqual(['entrypoint', 'etl']);
    const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
    for (const s of started) {
      expect(s.files).toEqual({ MODEL_WEIGHTS: sha256(big), RULES: sha256(small) });
      expect(s.env).not.toHaveProperty('MODEL_WEIGHTS');
      expect(s.env).toMatchObject({
        GREETING: 'hi',
        RULES: small,
        KRT_CONFIG_KEYS: 'GREETING,RULES',
      });
    }
    await sut.stop('demo', 'big');
  });

  it('fails waitReady with the program output when a workload keeps crashing', async () => {
    const sut = drivers.at(-1)!;
    await sut.apply(planOf('bad', [workload('wf.broken')]));
    await expect(sut.waitReady('demo', 'bad', 20_000)).rejects.toThrow(
      /wf.broken keeps crashing.*boom: handler failed to load/s,
    );
    await sut.stop('demo', 'bad');
  });

  it('kills a sandboxed workload that is in no registry, with its whole sandbox', async () => {
    const sut = drivers.at(-1)!;
    await sut.apply(planOf('lost', [workload('wf.etl')]));
    await sut.waitReady('demo', 'lost', 10_000);
    const [bwrap] = (await sut.status('demo', 'lost')).map((s) => s.pid!);
    const sandbox = [bwrap, ...(await descendants(bwrap))];
    expect(sandbox).toHaveLength(3); // bwrap, the PID namespace's init, the program
    const startTimes = await Promise.all(sandbox.map((pid) => processStartTime(pid)));
    await sut.close();
    await rm(join(stateDir, 'versions/demo/lost/registry.json')); // as if never recorded

    const next = makeDriver();
    await next.adopt();
    for (const [i, pid] of sandbox.entries()) {
      await expect.poll(() => isSameProcess(pid, startTimes[i]!), { timeout: 5_000 }).toBe(false);
    }
    await next.stop('demo', 'lost');
  });

  it("runs a version's entrypoint and JS nodes in one shared process: members' env, status, restarts, release", async () => {
    const sut = makeDriver({ sharedProcess: true });
    await sut.adopt();
    const node = (id: string, handler: string, extra: Partial<WorkloadSpec> = {}) =>
      workload(id, {
        env: { KRT_NODE_ID: id.split('.')[1], KRT_HANDLER_PATH: handler, GREETING: 'hi' },
        ...extra,
      });
    const packed = planOf('packed', [
      workload('entrypoint', { env: { SECRET_TOKEN: 's3cret', GREETING: 'hi' } }),
      node('wf.a', 'src/a.js', { replicas: 2 }),
      node('wf.b', 'src/b.js'),
      // The same handler file as wf.b: its module state stays its own, in its own process.
      node('wf.c', 'src/b.js'),
    ]);
    await sut.apply(packed);
    await sut.waitReady('demo', 'packed', 10_000);
    const started = await starts('packed');
    // Three processes: the shared one (the entrypoint, wf.a and wf.b), wf.a's second replica, wf.c.
    expect(started).toHaveLength(3);
    const shared = started.find((s) => s.env.KRT_SHARED_WORKLOADS)!;
    // What the members share is the process's env; what differs is each one's own part.
    expect(shared.env).toMatchObject({ GREETING: 'hi', [OWNER_ENV]: `kre@${stateDir}` });
    expect(shared.env.SECRET_TOKEN).toBeUndefined();
    expect(shared.env.KRT_NODE_ID).toBeUndefined();
    expect(JSON.parse(shared.env.KRT_SHARED_WORKLOADS)).toEqual([
      { id: 'entrypoint', program: 'entrypoint', env: { SECRET_TOKEN: 's3cret' } },
      { id: 'wf.a', program: 'runner', env: { KRT_NODE_ID: 'a', KRT_HANDLER_PATH: 'src/a.js' } },
      { id: 'wf.b', program: 'runner', env: { KRT_NODE_ID: 'b', KRT_HANDLER_PATH: 'src/b.js' } },
    ]);
    expect(
      started
        .filter((s) => !s.env.KRT_SHARED_WORKLOADS)
        .map((s) => s.id)
        .sort(),
    ).toEqual(['a', 'c']);
    // Every workload's replicas, as without sharing; the members' replica 0 is the shared one.
    const status = await sut.status('demo', 'packed');
    const byReplica = Object.fromEntries(status.map((s) => [`${s.workloadId}#${s.replica}`, s]));
    expect(Object.keys(byReplica).sort()).toEqual([
      'entrypoint#0',
      'wf.a#0',
      'wf.a#1',
      'wf.b#0',
      'wf.c#0',
    ]);
    const sharedPid = byReplica['entrypoint#0'].pid;
    for (const id of ['entrypoint#0', 'wf.a#0', 'wf.b#0'])
      expect(byReplica[id]).toMatchObject({ state: 'RUNNING', pid: sharedPid });
    expect(new Set(status.map((s) => s.pid)).size).toBe(3);
    expect(await sut.endpoints('demo', 'packed')).toEqual({
      http: `${shared.env.KRT_LISTEN_HOST ?? '127.0.0.1'}:${shared.env.KRT_HTTP_PORT}`,
      grpc: `${shared.env.KRT_LISTEN_HOST ?? '127.0.0.1'}:${shared.env.KRT_GRPC_PORT}`,
    });
    // The shared process's use, split among its members (it is one process's).
    const usage = await sut.usage('demo', 'packed');
    const memory = (id: string) =>
      usage.replicas.find((r) => `${r.workloadId}#${r.replica}` === id)?.memoryBytes;
    expect(memory('wf.a#0')).toBeGreaterThan(0);
    expect(memory('entrypoint#0')).toBe(memory('wf.b#0'));

    // A crash of the shared process is a restart of each of its members.
    process.kill(sharedPid!, 'SIGKILL');
    await expect
      .poll(
        async () =>
          (await sut.status('demo', 'packed'))
            .filter((s) => s.replica === 0 && s.workloadId !== 'wf.c')
            .map((s) => [s.workloadId, s.state, s.restarts]),
        { timeout: 10_000 },
      )
      .toEqual([
        ['entrypoint', 'RUNNING', 1],
        ['wf.a', 'RUNNING', 1],
        ['wf.b', 'RUNNING', 1],
      ]);
    await sut.waitReady('demo', 'packed', 10_000);

    // Asleep, nothing runs: three processes, five replicas of the workloads, released.
    const pids = new Set((await sut.status('demo', 'packed')).map((s) => s.pid!));
    expect(pids.size).toBe(3);
    expect(await sut.release('demo', 'packed')).toBe(5);
    for (const pid of pids) expect(await alive(pid)).toBe(false);
    expect(new Set((await sut.status('demo', 'packed')).map((s) => s.state))).toEqual(
      new Set(['STOPPED']),
    );
    expect(await sut.resume('demo', 'packed')).toBe(5);
    await sut.waitReady('demo', 'packed', 10_000);
    expect(new Set((await sut.status('demo', 'packed')).map((s) => s.pid)).size).toBe(3);

    // A deployer that does not share takes over and rolls the version: a process per replica,
    // the entrypoint still at the same address (the routes to it stay valid).
    const endpoints = await sut.endpoints('demo', 'packed');
    await sut.close();
    const apart = makeDriver({ sharedProcess: false });
    await apart.adopt();
    await apart.apply(packed);
    await apart.waitReady('demo', 'packed', 10_000);
    const rolled = await apart.status('demo', 'packed');
    expect(rolled).toHaveLength(5);
    expect(new Set(rolled.map((s) => s.pid)).size).toBe(5);
    expect(await apart.endpoints('demo', 'packed')).toEqual(endpoints);
    await apart.stop('demo', 'packed');
    expect(await apart.status('demo', 'packed')).toEqual([]);
  });

  it("lists every entrypoint replica's addresses, the shared process's first, as autoscaling adds and removes them", async () => {
    const sut = makeDriver({ sharedProcess: true });
    await sut.adopt();
    const scaled = (replicas: number) =>
      planOf('entries', [
        workload('entrypoint', { replicas }),
        workload('wf.a', { env: { KRT_NODE_ID: 'a', KRT_HANDLER_PATH: 'src/a.js' } }),
      ]);
    await sut.apply(scaled(1));
    await sut.waitReady('demo', 'entries', 10_000);
    const one = await sut.endpoints('demo', 'entries');
    expect(one?.replicas).toBeUndefined();

    await sut.apply(scaled(3));
    await sut.waitReady('demo', 'entries', 10_000);
    const three = await sut.endpoints('demo', 'entries');
    // The first is still the shared process's (routes to it stay valid); two processes more.
    expect(three).toMatchObject({ http: one!.http, grpc: one!.grpc });
    expect(three?.replicas).toHaveLength(3);
    expect(three!.replicas![0]).toEqual({ http: one!.http, grpc: one!.grpc });
    const own = (await starts('entries')).filter((s) => !s.env.KRT_SHARED_WORKLOADS);
    expect(own).toHaveLength(2);
    const host = (env: Record<string, string>) => env.KRT_LISTEN_HOST ?? '127.0.0.1';
    expect(
      three!
        .replicas!.slice(1)
        .map((r) => r.http)
        .sort(),
    ).toEqual(own.map((s) => `${host(s.env)}:${s.env.KRT_HTTP_PORT}`).sort());
    expect(new Set(three!.replicas!.map((r) => r.grpc)).size).toBe(3);

    // Back to one: the others are gone, the first serves on.
    const extra = (await sut.status('demo', 'entries')).filter((r) => r.replica > 0);
    await sut.apply(scaled(1));
    expect(await sut.endpoints('demo', 'entries')).toEqual(one);
    for (const replica of extra) expect(await alive(replica.pid!)).toBe(false);
    await sut.stop('demo', 'entries');
  });

  it('fetches the KRT once per pinned copy: a scale change or a config roll does not fetch again', async () => {
    const sut = makeDriver();
    await sut.adopt();
    const pinned = (krtSha256: string, replicas: number, greeting: string) => ({
      ...planOf('pinned', [
        workload('wf.etl', {
          replicas,
          specHash: `etl-${greeting}`,
          env: { KRT_NODE_ID: 'etl', GREETING: greeting },
        }),
      ]),
      pins: { credentials: 'not a real creds file', krtSha256 },
    });
    await sut.apply(pinned('aaa', 1, 'hi'));
    await sut.apply(pinned('aaa', 2, 'hi')); // scaled out
    await sut.apply(pinned('aaa', 2, 'hello')); // a config roll
    expect(fetches.get('pinned')).toBe(1);
    await sut.waitReady('demo', 'pinned', 10_000);
    expect((await starts('pinned')).filter((s) => s.env.GREETING === 'hello')).toHaveLength(2);
    await sut.apply(pinned('bbb', 2, 'hello')); // another copy of the KRT (a new start)
    expect(fetches.get('pinned')).toBe(2);
    await sut.stop('demo', 'pinned');
    await sut.apply(pinned('bbb', 1, 'hello')); // stopped: its folder is gone, fetched again
    expect(fetches.get('pinned')).toBe(3);
    await sut.stop('demo', 'pinned');
  });

  it("confines a hostile workload: no engine environment, no other version's or runtime's files, no signals, read-only KRT, its runtime's own uid", async () => {
    const sut = drivers.at(-1)!;
    await writeFile(join(root, 'engine-secret.txt'), `secret-${process.pid}`);
    // Victims: another version of the same runtime, and a version of another runtime.
    await sut.apply(planOf('v2', [workload('wf.etl')]));
    await sut.apply(planOf('v1', [workload('entrypoint')], 'other'));
    await sut.waitReady('demo', 'v2', 10_000);
    await sut.waitReady('other', 'v1', 10_000);
    const victims = [...(await sut.status('demo', 'v2')), ...(await sut.status('other', 'v1'))];
    const victimPids: number[] = [];
    for (const v of victims) victimPids.push(v.pid!, ...(await descendants(v.pid!)));
    const victimStarts = await Promise.all(victimPids.map((pid) => processStartTime(pid)));

    await sut.apply(
      planOf('evil', [
        workload('wf.evil', {
          env: {
            KRT_NODE_ID: 'evil',
            ENGINE_PID: String(process.pid), // the test stands for the deployer
            VICTIM_PIDS: victimPids.join(','),
            OTHER_KRTS: [
              join(stateDir, 'versions/demo/v2/krt'),
              join(stateDir, 'versions/other/v1/krt'),
            ].join(','),
            OTHER_CONFIG: join(stateDir, 'versions/other/v1/config'),
            STATE_DIR: stateDir,
            ENGINE_FILE: join(root, 'engine-secret.txt'),
            KRT_NATS_SERVER: `nats://127.0.0.1:${portOf(nats)}`,
            SERVICE_PORT: String(portOf(service)),
            VICTIM_ADDRESS: (await sut.endpoints('other', 'v1'))!.http,
            LISTEN_PORT: '18734',
          },
        }),
      ]),
    );
    await sut.waitReady('demo', 'evil', 10_000);
    const [report] = await logged<Record<string, unknown>>('evil', 'REPORT');
    expect(report).toBeDefined();

    expect(report.engineEnviron).toEqual({ error: 'ENOENT' });
    expect(report.signalEngine).toEqual({ error: 'ESRCH' });
    expect(report.signalVictims).toEqual(victimPids.map(() => ({ error: 'ESRCH' })));
    expect(report.victimEnviron).toEqual(victimPids.map(() => ({ error: 'ENOENT' })));
    expect(report.processes).toBeLessThanOrEqual(3); // bwrap's init, the program, maybe a thread
    expect(report.otherKrts).toEqual([{ error: 'ENOENT' }, { error: 'ENOENT' }]);
    expect(report.otherConfig).toEqual({ error: 'ENOENT' });
    expect(report.ownRegistry).toEqual({ error: 'ENOENT' });
    expect(report.ownLogs).toEqual({ error: 'ENOENT' });
    // Of the state folder it sees only the path to its own KRT and config.
    expect(report.stateDir).toEqual({ ok: ['versions'] });
    expect(report.runtimes).toEqual({ ok: ['demo'] });
    expect(report.versions).toEqual({ ok: ['evil'] });
    expect(report.engineFile).toEqual({ error: 'ENOENT' });
    expect(report.writeKrt).toEqual({ error: 'EROFS' });
    expect(report.writeConfig).toEqual({ error: 'EROFS' });
    expect(report.writeTmp).toEqual({ ok: true }); // its own /tmp
    expect(report.writeShm).toEqual({ ok: true }); // its own /dev/shm (multiprocessing's semaphores)
    expect(report.writeHome).toEqual({ ok: true }); // HOME is that /tmp, not the deployer's
    // The victims are untouched.
    for (const [i, pid] of victimPids.entries())
      expect(await isSameProcess(pid, victimStarts[i]!)).toBe(true);
    expect(await readFile(join(stateDir, 'versions/demo/evil/krt/kre.yaml'), 'utf8')).toBe(
      'version: v1\n',
    );

    if (process.getuid?.() === 0) {
      // Each runtime its own uid and gid, outside the sandbox too.
      const [evil] = await starts('evil');
      const [other] = await starts('v1', 'other');
      expect(report.uid).toBe(runtimeIds('demo', SANDBOX).uid);
      expect(evil).toMatchObject(runtimeIds('demo', SANDBOX));
      expect(other).toMatchObject(runtimeIds('other', SANDBOX));
      expect(other.uid).not.toBe(evil.uid);
      const [evilPid] = await descendants((await sut.status('demo', 'evil'))[0].pid!, 2);
      const status = await readFile(`/proc/${evilPid}/status`, 'utf8');
      expect(status).toMatch(new RegExp(`^Uid:\\s+${evil.uid}\\s`, 'm'));

      // Its network: NATS only; what it listens on is reached at its own address alone.
      const network = await eventually(async () => (await logged('evil', 'NETWORK'))[0]);
      expect(network).toEqual({
        nats: { ok: 'INFO nats' },
        serviceOnLoopback: { error: 'ECONNREFUSED' },
        serviceThroughHost: { error: 'TIMEOUT' },
        victim: { error: 'ENETUNREACH' },
        internet: { error: 'ENETUNREACH' },
      });
      expect(evil.env.KRT_NATS_SERVER).not.toContain('127.0.0.1');
      const address = evil.env.KRT_LISTEN_HOST;
      expect(address).toMatch(/^10\.213\./);
      expect(await reach('127.0.0.1', 18734)).toEqual({ error: 'ECONNREFUSED' });
      expect(await reach(address, 18734)).toEqual({ ok: true });
    }
    const [{ env: evilEnv }] = await starts('evil');
    for (const [rt, ver] of [
      ['demo', 'v2'],
      ['demo', 'evil'],
      ['other', 'v1'],
    ] as const)
      await sut.stop(rt, ver);
    if (asRoot) {
      // Stopped, its namespace and the host's end of its veth pair are gone.
      const hostEnd = new URL(evilEnv.KRT_NATS_SERVER).hostname;
      expect(execFileSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' })).not.toContain(
        ` ${hostEnd}/30 `,
      );
    }
  });
});

/** Polls `read` until it gives something (the workload reports asynchronously). */
async function eventually<T>(read: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('no value in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Whether a TCP connection to `host:port` opens (from the machine, outside any sandbox). */
function reach(host: string, port: number): Promise<{ ok: true } | { error: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, host, () => {
      socket.destroy();
      resolve({ ok: true });
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? '?' }));
  });
}

/** A version with one workflow of one node (`etl`), as `openKrt` would describe it. */
function oneNodeKrt(version: string): Krt {
  return {
    krtVersion: 'v2',
    version,
    description: '',
    entrypoint: { proto: 'public_input.proto', image: 'konstellation/kre-entrypoint:latest' },
    config: { variables: ['GREETING'], files: ['MODEL_WEIGHTS', 'RULES'] },
    rpcs: ['Run'],
    manifest: 'kre.yaml',
    docs: [],
    warnings: [],
    workflows: [
      {
        name: 'wf',
        displayName: 'wf',
        entrypoint: 'Run',
        exitpoint: 'etl',
        nodes: [
          {
            name: 'etl',
            displayName: 'etl',
            image: 'konstellation/kre-runtime-runner-js:latest',
            src: 'src/etl.js',
            gpu: false,
            replicas: 1,
            subscriptions: [{ node: 'entrypoint' }],
          },
        ],
      },
    ],
  };
}
