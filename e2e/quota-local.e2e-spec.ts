import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VersionStatus } from '@libs/core';
import { connectNats, versionRouteKey } from '@libs/messaging';
import { Names } from '@libs/naming';
import { OWNER_ENV, killWithGroup, processesWithEnv } from '@libs/orchestrator';
import { freePort, runApp, testEnv, waitForHttp, type AppProcess } from '@libs/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openControlPlane, seedGreeter, type ControlPlane } from './deployer-harness.js';

const MI = 2 ** 20;

/**
 * The runtime's quota on one machine, through the deployer process and the local driver: a node's
 * `resources` become its replicas' control-group limits (where the machine has writable cgroups,
 * which /health says), and a start over the quota is refused with nothing of it run or made.
 */
describe("a runtime's quota with the local driver", () => {
  const env = testEnv({ CONFIG_ENCRYPTION_KEY: randomBytes(32).toString('base64') });
  const names = new Names(env.KRE_PREFIX);
  const rt = 'quota-local';
  let work: string;
  let nc: NatsConnection;
  let plane: ControlPlane;
  let deployer: AppProcess | undefined;
  let health: { details?: { workloads?: Record<string, string> } } = {};

  const owned = () => processesWithEnv(OWNER_ENV, `${env.KRE_PREFIX}@${join(work, 'state')}`);
  const start = async (name: string) => {
    await plane.versions.transition(rt, name, [VersionStatus.CREATED], VersionStatus.STARTING);
    await plane.versionJobs.add('start', { runtimeId: rt, versionName: name, by: 'e2e' });
    await expect
      .poll(async () => (await plane.versions.find(rt, name))?.status, {
        timeout: 90_000,
        interval: 250,
      })
      .not.toBe(VersionStatus.STARTING);
    const version = await plane.versions.find(rt, name);
    return { status: version?.status, message: version?.statusMessage };
  };
  const seed = (name: string, resources?: string) =>
    seedGreeter({ work, prefix: env.KRE_PREFIX, runtimeId: rt, plane }, name, async (dir) => {
      if (!resources) return;
      const manifest = join(dir, 'kre.yaml');
      const text = await readFile(manifest, 'utf8');
      const sized = text.replace(
        '    src: src/make-greeting/handler.mjs\n',
        `    src: src/make-greeting/handler.mjs\n    resources: ${resources}\n`,
      );
      if (sized === text) throw new Error('examples/greeter changed: no make-greeting src line');
      await writeFile(manifest, sized);
    });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'kre-quota-local-e2e-'));
    plane = await openControlPlane(env);
    nc = await connectNats({ url: env.NATS_URL, credentials: env.NATS_CREDS, name: 'quota-local' });
    // greeter is an entrypoint and three nodes: 4 replicas of 256Mi / 0.25 CPU by default here.
    await plane.runtimes.create({
      _id: rt,
      name: 'Quota',
      description: '',
      createdBy: 'e2e',
      quota: {
        replicas: 6,
        memoryBytes: 2_048 * MI,
        cpuMillis: 4_000,
        gpus: 0,
        storageBytes: 1_024 * MI,
      },
    });
    const port = await freePort();
    deployer = runApp('deployer', {
      ...env,
      DEPLOYER_HEALTH_PORT: String(port),
      KRE_STATE_DIR: join(work, 'state'),
      WORKLOAD_READY_TIMEOUT_SECONDS: '60',
      WORKLOAD_MEMORY_MB: '256',
      WORKLOAD_CPUS: '0.25',
      WORKFLOW_STREAM_MAX_SIZE: '64Mi',
    });
    await waitForHttp(`http://127.0.0.1:${port}/health`, deployer);
    health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as typeof health;
  }, 120_000);

  afterAll(async () => {
    await deployer?.stop();
    for (const pid of await owned()) await killWithGroup(pid);
    await nc?.drain();
    await plane?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("runs each replica under its node's resources, else the installation's", async () => {
    await plane.runtimeJobs.add('create', { runtimeId: rt, by: 'e2e' });
    await expect
      .poll(async () => (await plane.runtimes.get(rt)).status, { timeout: 30_000 })
      .toBe('CREATED');
    const name = await seed('sized-v1', '{memory: 128Mi, cpu: 0.5}');
    expect(await start(name)).toEqual({ status: VersionStatus.STARTED, message: undefined });
    const limits = health.details?.workloads?.limits;
    expect(limits).toBeDefined();
    const mode = limits?.split(':')[0];
    if (mode !== 'cgroup-v1' && mode !== 'cgroup-v2') {
      // No writable cgroups on this machine: /health says so, and there is nothing to read.
      expect(limits).toBe('none');
      return;
    }
    const group = (workload: string) => `${env.KRE_PREFIX}-${rt}-${name}-${workload}-0`;
    const read = (workload: string, controller: 'memory' | 'cpu') => {
      const base = '/sys/fs/cgroup';
      const file =
        mode === 'cgroup-v2'
          ? join(
              base,
              env.KRE_PREFIX,
              group(workload),
              controller === 'memory' ? 'memory.max' : 'cpu.max',
            )
          : join(
              base,
              controller,
              env.KRE_PREFIX,
              group(workload),
              controller === 'memory' ? 'memory.limit_in_bytes' : 'cpu.cfs_quota_us',
            );
      return readFileSync(file, 'utf8').trim().split(' ')[0];
    };
    // make-greeting sets its own: it runs alone, under them.
    expect(read('greet.make-greeting', 'memory')).toBe(String(128 * MI));
    expect(read('greet.make-greeting', 'cpu')).toBe('50000');
    // The entrypoint, clean-name and format-reply share a process, under the sum of their
    // defaults (WORKLOAD_SHARED_PROCESS).
    expect(read('shared', 'memory')).toBe(String(3 * 256 * MI));
    expect(read('shared', 'cpu')).toBe('75000');
  });

  it('refuses a start over the quota: ERROR naming the excess, no process, stream or route of it', async () => {
    const before = (await owned()).length;
    const name = await seed('plain-v2');
    const result = await start(name);
    expect(result.status).toBe(VersionStatus.ERROR);
    expect(result.message).toContain(
      "replicas: this version needs 4, the runtime's other versions hold 4, the quota is 6 (2 over)",
    );
    expect(result.message).not.toContain('memory:');
    expect((await owned()).length).toBe(before);
    const jsm = await jetstreamManager(nc);
    await expect(jsm.streams.info(names.workflowStream(rt, name, 'greet'))).rejects.toThrow(
      /stream not found/,
    );
    const routes = await new Kvm(nc).open(names.gatewayBucket());
    expect(await routes.get(versionRouteKey(rt, name))).toBeNull();
  });
});
