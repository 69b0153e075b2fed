import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import type { Krt } from '@libs/krt';
import { planVersionResources } from '@libs/messaging';
import { Names } from '@libs/naming';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plan, type DeploymentPlan, type WorkloadSpec } from '../deployment-plan.js';
import { LocalDriver, OWNER_ENV } from './local.driver.js';
import { isSameProcess, processStartTime } from './proc.js';

/**
 * A stand-in workload program: serves /readyz on KRT_HEALTH_PORT, writes its env and the
 * sha256 of each config file it reads to a file, exits at once when the KRT says so (a
 * "failing node program").
 */
const FAKE_PROGRAM = `
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
const base = process.env.KRT_BASE_PATH;
if (existsSync(join(base, 'crash-' + process.env.KRT_NODE_ID))) { console.error('boom: handler failed to load'); process.exit(3); }
const dir = process.env.KRT_CONFIG_FILES_DIR;
const files = Object.fromEntries(readdirSync(dir).map((f) => [f, createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')]));
appendFileSync(join(base, '..', 'starts.log'), JSON.stringify({ id: process.env.KRT_NODE_ID ?? 'entrypoint', pid: process.pid, env: process.env, files }) + '\\n');
createServer((req, res) => { res.statusCode = req.url === '/readyz' ? 200 : 404; res.end('ok'); })
  .listen(Number(process.env.KRT_HEALTH_PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
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

function planOf(versionName: string, workloads: WorkloadSpec[]): DeploymentPlan {
  return {
    prefix: 'kre',
    runtimeId: 'demo',
    versionName,
    workloads,
    resources: planVersionResources(new Names('kre'), 'demo', versionName, []),
    krtBucket: 'kre_demo_krt',
    routes: {},
  };
}

describe(LocalDriver.name, () => {
  let root: string;
  let stateDir: string;
  let program: string;
  const drivers: LocalDriver[] = [];
  const makeDriver = () => {
    const driver = new LocalDriver({
      stateDir,
      prefix: 'kre',
      nodeBinary: process.execPath,
      programs: { entrypoint: program, runner: program },
      fetchKrt: async (plan, dest) => {
        await mkdir(dest, { recursive: true });
        await writeFile(join(dest, 'kre.yaml'), 'version: v1\n');
        // The "bad" version's node program fails as soon as it starts.
        if (plan.versionName === 'bad') await writeFile(join(dest, 'crash-broken'), '');
      },
      stopGraceMs: 2_000,
      tickMs: 100,
      baseEnv: { PATH: process.env.PATH ?? '' },
    });
    drivers.push(driver);
    return driver;
  };
  const starts = async (versionName: string) =>
    (
      await readFile(join(stateDir, 'versions/demo', versionName, 'starts.log'), 'utf8').catch(
        () => '',
      )
    )
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(
        (line) =>
          JSON.parse(line) as {
            id: string;
            pid: number;
            env: Record<string, string>;
            files: Record<string, string>;
          },
      );
  const alive = async (pid: number) => (await processStartTime(pid)) !== null;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'kre-local-driver-'));
    stateDir = join(root, 'state');
    program = join(root, 'fake-workload.mjs');
    await writeFile(program, FAKE_PROGRAM);
  });
  afterAll(async () => {
    for (const driver of drivers) await driver.close();
    await makeDriver().adopt(); // kills anything left with our marker
    for (const ver of ['v1', 'v2', 'bad', 'big']) await drivers.at(-1)!.stop('demo', ver);
    await rm(root, { recursive: true, force: true });
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
      http: `127.0.0.1:${entry.env.KRT_HTTP_PORT}`,
      grpc: `127.0.0.1:${entry.env.KRT_GRPC_PORT}`,
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
});

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
