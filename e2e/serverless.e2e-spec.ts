import { status as GrpcStatus } from '@grpc/grpc-js';
import { VersionStatus } from '@libs/core';
import { redisOptions, type VersionRef } from '@libs/jobs';
import { versionRouteKey, versionRouteSchema } from '@libs/messaging';
import { Names } from '@libs/naming';
import { testEnv } from '@libs/testing';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcClient, postJson } from './data-plane/harness.js';
import { seedGreeter, type ControlPlane } from './deployer-harness.js';
import { startLocalEngine, type LocalEngine } from './engine-harness.js';

/**
 * Scale to zero on one machine (issue #16), through the deployer and gateway processes and the
 * local driver: a started greeter with a short idle time sleeps (its processes gone, its route
 * kept), a call wakes it and is answered, a burst of calls wakes it once, and a call whose
 * deadline cannot be met is answered UNAVAILABLE.
 */
describe('scale to zero with the local driver', () => {
  const env = testEnv();
  const names = new Names(env.KRE_PREFIX);
  const rt = 'sleepy';
  const ver = 'greeter-v1';
  let engine: LocalEngine;
  let plane: ControlPlane;
  let nc: NatsConnection;
  let gatewayHttp: string;
  let queue: Queue;
  let grpc: ReturnType<typeof grpcClient>;

  const owned = () => engine.owned();

  const scaleState = async () => (await plane.versions.find(rt, ver))?.scale?.state;
  const route = async () => {
    const entry = await (
      await new Kvm(nc).open(names.gatewayBucket())
    ).get(versionRouteKey(rt, ver));
    return entry?.operation === 'PUT' ? versionRouteSchema.parse(entry.json()) : null;
  };
  const asleep = async () => {
    await expect.poll(scaleState, { timeout: 60_000, interval: 100 }).toBe('SLEEPING');
    await expect.poll(async () => (await owned()).length, { timeout: 60_000 }).toBe(0);
  };
  const wakeJobs = async () =>
    (await queue.getJobs(['completed', 'failed', 'active', 'waiting', 'delayed'])).filter(
      (job) => job.name === 'wake' && (job.data as VersionRef).runtimeId === rt,
    ).length;
  const greet = (name: string) => postJson(`${gatewayHttp}/${rt}/versions/${ver}/Greet`, { name });

  beforeAll(async () => {
    engine = await startLocalEngine({
      env,
      name: 'kre-serverless-e2e-',
      openRuntimes: [rt],
      apps: ['deployer', 'gateway'],
      extra: {
        deployer: { WORKLOAD_READY_TIMEOUT_SECONDS: '60' },
        gateway: { GATEWAY_WAKE_HOLD_SECONDS: '120' },
      },
    });
    ({ plane, nc, gatewayHttp } = engine);
    queue = new Queue('versions', {
      connection: redisOptions(env.REDIS_URL, 'producer'),
      prefix: names.queuePrefix(),
    });
    grpc = grpcClient('public_input.proto', ['examples/greeter'], engine.gatewayGrpc);
  }, 120_000);

  afterAll(async () => {
    grpc?.close();
    await queue?.close();
    await engine?.close();
  });

  it('starts the greeter awake', async () => {
    await engine.createRuntime(rt, 'Sleepy');
    await seedGreeter({ work: engine.work, prefix: env.KRE_PREFIX, runtimeId: rt, plane }, ver);
    await plane.versions.transition(rt, ver, [VersionStatus.CREATED], VersionStatus.STARTING);
    await plane.versionJobs.add('start', { runtimeId: rt, versionName: ver, by: 'e2e' });
    await expect
      .poll(async () => (await plane.versions.find(rt, ver))?.status, { timeout: 90_000 })
      .toBe(VersionStatus.STARTED);
    expect(await scaleState()).toBe('AWAKE');
  }, 120_000);

  it('sleeps after its idle time: every process gone, the route kept', async () => {
    expect(await owned()).toHaveLength(1); // the entrypoint and three runners: one shared process
    expect((await greet('Ada')).status).toBe(200);
    await plane.versions.setIdleSeconds(rt, ver, 3);
    await asleep();
    expect((await plane.versions.find(rt, ver))?.status).toBe('STARTED');
    expect(await route()).toMatchObject({ scale: 'SLEEPING' });
    expect((await route())?.http).toMatch(/:\d+$/);
  }, 240_000);

  it('wakes on a call and answers it', async () => {
    const before = await wakeJobs();
    const answer = await greet('Grace');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ greeting: 'Hello, Grace!' });
    expect(await scaleState()).toBe('AWAKE');
    expect(await route()).toMatchObject({ scale: 'AWAKE' });
    expect(await owned()).toHaveLength(1);
    expect(await wakeJobs()).toBe(before + 1);
  }, 240_000);

  it('wakes once for a burst of concurrent calls, HTTP and gRPC', async () => {
    await asleep();
    const requests: string[] = [];
    const watch = nc.subscribe(names.wakeRequestSubject(), {
      callback: (_error, msg) => {
        requests.push(msg.string());
      },
    });
    await nc.flush();
    const before = await wakeJobs();
    const calls = await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => greet(`http-${i}`)),
      ...Array.from({ length: 10 }, (_, i) =>
        // A deadline far beyond a wake on a busy machine (a shorter one than the last wake took
        // is refused at once: the last case).
        grpc.call(
          'Greet',
          { name: `grpc-${i}` },
          { 'kre-runtime': rt, 'kre-version': ver },
          120_000,
        ),
      ),
    ]);
    watch.unsubscribe();
    expect(calls.slice(0, 10).map((c) => (c as { status: number }).status)).toEqual(
      Array(10).fill(200),
    );
    expect(calls.slice(10).map((c) => (c as { error?: unknown }).error)).toEqual(
      Array(10).fill(undefined),
    );
    expect(calls.slice(10).map((c) => (c as { response?: unknown }).response)).toEqual(
      Array.from({ length: 10 }, (_, i) => ({ greeting: `Hello, grpc-${i}!` })),
    );
    expect(requests).toEqual([JSON.stringify({ runtimeId: rt, versionName: ver })]);
    expect(await wakeJobs()).toBe(before + 1);
  }, 240_000);

  it('answers UNAVAILABLE when a call cannot be served within its deadline, then wakes', async () => {
    await asleep();
    const call = await grpc.call(
      'Greet',
      { name: 'Hurry' },
      { 'kre-runtime': rt, 'kre-version': ver },
      300,
    );
    expect(call.error?.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(call.error?.details).toContain(`version "${ver}" of runtime "${rt}"`);
    // The wake it asked for goes on: the next call is served.
    await expect.poll(scaleState, { timeout: 120_000, interval: 100 }).toBe('AWAKE');
    expect((await greet('Later')).body).toEqual({ greeting: 'Hello, Later!' });
  }, 240_000);

  it('stays asleep through a config change; the next wake runs the new config', async () => {
    await asleep();
    const wakes = await wakeJobs();
    await plane.versions.updateConfig(rt, ver, [
      {
        key: 'GREETING',
        type: 'VARIABLE',
        value: plane.cipher.encrypt('Howdy', { runtimeId: rt, versionName: ver, key: 'GREETING' }),
      },
    ]);
    const job = await plane.versionJobs.add('update-config', {
      runtimeId: rt,
      versionName: ver,
      by: 'e2e',
    });
    await expect
      .poll(async () => (job.id ? await queue.getJobState(job.id) : 'unknown'), {
        timeout: 60_000,
      })
      .toBe('completed');
    // Applied without waking: no process, still SLEEPING, no wake asked for.
    expect(await scaleState()).toBe('SLEEPING');
    expect(await owned()).toHaveLength(0);
    expect(await route()).toMatchObject({ scale: 'SLEEPING' });
    expect(await wakeJobs()).toBe(wakes);
    // The call wakes it onto the config saved while it slept.
    expect((await greet('Lin')).body).toEqual({ greeting: 'Howdy, Lin!' });
    expect(await wakeJobs()).toBe(wakes + 1);
  }, 240_000);
});
