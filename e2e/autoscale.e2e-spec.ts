import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VersionStatus } from '@libs/core';
import { decodeRecord, openGatewayRoutes, versionRouteKey } from '@libs/messaging';
import { Names } from '@libs/naming';
import { testEnv } from '@libs/testing';
import type { Subscription } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson } from './data-plane/harness.js';
import { seedGreeter, type ControlPlane } from './deployer-harness.js';
import { startLocalEngine, type LocalEngine } from './engine-harness.js';

/**
 * Node autoscaling on one machine (issue #16), through the deployer and gateway processes and the
 * local driver: a greeter whose middle node takes 800 ms a message, bounds 1..3, a burst of calls
 * sustains a backlog on its consumer, the node scales out to 3 replica processes, and once the
 * backlog drained and the cool-down passed it scales back to 1. The up window, cool-down and
 * target backlog are short here (AUTOSCALE_* of the deployer).
 */
describe('node autoscaling with the local driver', () => {
  const env = testEnv();
  const rt = 'busy';
  const ver = 'greeter-v1';
  let engine: LocalEngine;
  let plane: ControlPlane;

  const owned = () => engine.owned();
  const scaled = async () => (await plane.versions.find(rt, ver))?.scale?.replicas;

  beforeAll(async () => {
    engine = await startLocalEngine({
      env,
      name: 'kre-autoscale-e2e-',
      openRuntimes: [rt],
      apps: ['deployer', 'gateway'],
      extra: {
        deployer: {
          WORKLOAD_READY_TIMEOUT_SECONDS: '60',
          AUTOSCALE_TARGET_BACKLOG: '8',
          AUTOSCALE_TARGET_IN_FLIGHT: '4',
          AUTOSCALE_UP_AFTER_SECONDS: '1',
          AUTOSCALE_COOLDOWN_SECONDS: '3',
        },
      },
    });
    plane = engine.plane;
  }, 120_000);

  afterAll(() => engine?.close());

  it('scales a node with a sustained backlog out to its max, and back to its min after the cool-down', async () => {
    await engine.createRuntime(rt, 'Busy');
    await seedGreeter(
      { work: engine.work, prefix: env.KRE_PREFIX, runtimeId: rt, plane },
      ver,
      slowGreeting('Hello'),
    );
    await boundSlowNode(plane, rt, ver);
    await startVersion(plane, rt, ver);
    // The entrypoint and three runners, one replica each: one shared process.
    expect(await owned()).toHaveLength(1);
    const { lines, sub } = autoscaleLines(engine, env.KRE_PREFIX, rt, ver);

    // 200 calls at 16 in flight per replica, 800 ms each: about 10 s of backlog for one replica
    // (the gateway takes 256 calls at once).
    const calls = Array.from({ length: 200 }, (_, i) =>
      postJson(`${engine.gatewayHttp}/${rt}/versions/${ver}/Greet`, { name: `n${i}` }),
    );
    await expect.poll(scaled, { timeout: 30_000, interval: 200 }).toBe(6);
    expect(await owned()).toHaveLength(3); // the node's further replicas are processes of their own
    const answers = await Promise.all(calls);
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    expect(answers[7].body).toMatchObject({ greeting: 'Hello, n7!' });

    // Drained: after the cool-down, one replica of the node again.
    await expect.poll(scaled, { timeout: 30_000, interval: 200 }).toBe(4);
    await expect.poll(async () => (await owned()).length, { timeout: 30_000 }).toBe(1);
    // Down in one step, or two when the draining backlog still wanted 2 within a cool-down.
    await expect
      .poll(() => lines.at(-1), { timeout: 10_000 })
      .toMatch(/→ 1 replica\(s\): .* for 3 s/);
    expect(lines[0]).toMatch(/^autoscale up: 1 → 3 replica\(s\): backlog \d+ for 1 s wants 3/);
    expect(lines.slice(1).every((line) => line.startsWith('autoscale down: '))).toBe(true);
    sub.unsubscribe();
  }, 150_000);

  it('scales the entrypoint out on sustained calls in flight, spreads calls over its replicas, and back after the cool-down', async () => {
    const entry = 'greeter-v2';
    await seedGreeter(
      { work: engine.work, prefix: env.KRE_PREFIX, runtimeId: rt, plane },
      entry,
      slowGreeting('Hi'),
    );
    await plane.versions.setEntrypointAutoscale(rt, entry, { min: 1, max: 3 });
    await startVersion(plane, rt, entry);
    const routes = await openGatewayRoutes(engine.nc, new Names(env.KRE_PREFIX));
    const route = async () =>
      (await routes.get(versionRouteKey(rt, entry)))?.json<{
        http: string;
        replicas?: { http: string }[];
      }>();
    expect((await route())?.replicas).toBeUndefined();
    const { lines, sub } = autoscaleLines(engine, env.KRE_PREFIX, rt, entry, 'entrypoint');

    // 16 callers, one call each at a time (800 ms): 16 calls in flight, 4 per replica wanted.
    let calling = true;
    const answers: number[] = [];
    const callers = Array.from({ length: 16 }, async (_, c) => {
      for (let i = 0; calling; i++) {
        const answer = await postJson(`${engine.gatewayHttp}/${rt}/versions/${entry}/Greet`, {
          name: `c${c}-${i}`,
        });
        answers.push(answer.status);
      }
    });
    try {
      await expect
        .poll(async () => (await route())?.replicas?.length, { timeout: 30_000, interval: 200 })
        .toBe(3);
      expect((await plane.versions.find(rt, entry))?.scale?.replicas).toBe(6);
      // The gateway sends calls to each replica: each has a connection from it while they last.
      const replicas = (await route())!.replicas!.map((r) => r.http);
      await expect
        .poll(() => replicas.filter((r) => !connectedTo().has(r)), { timeout: 15_000 })
        .toEqual([]);
    } finally {
      calling = false;
      await Promise.all(callers);
    }
    expect(answers.length).toBeGreaterThan(16);
    expect(answers.filter((status) => status !== 200)).toEqual([]);

    // One caller goes on (one call in flight wants one replica): after the cool-down, one
    // replica again, at the first address, and no call of it fails while two replicas stop.
    let trickling = true;
    const trickle: number[] = [];
    const caller = (async () => {
      for (let i = 0; trickling; i++)
        trickle.push(
          (
            await postJson(`${engine.gatewayHttp}/${rt}/versions/${entry}/Greet`, {
              name: `t${i}`,
            })
          ).status,
        );
    })();
    try {
      await expect
        .poll(async () => (await route())?.replicas, { timeout: 30_000, interval: 200 })
        .toBeUndefined();
      // Until the two replicas are gone (their calls finished), and a while after.
      await expect
        .poll(async () => (await plane.versions.find(rt, entry))?.scale?.replicas, {
          timeout: 10_000,
        })
        .toBe(4);
      const answered = trickle.length;
      await expect.poll(() => trickle.length, { timeout: 10_000 }).toBeGreaterThan(answered + 2);
    } finally {
      trickling = false;
      await caller;
    }
    expect(trickle.length).toBeGreaterThan(3);
    expect(trickle.filter((status) => status !== 200)).toEqual([]);
    const after = await postJson(`${engine.gatewayHttp}/${rt}/versions/${entry}/Greet`, {
      name: 'Ada',
    });
    expect(after).toMatchObject({ status: 200, body: { greeting: 'Hi, Ada!' } });
    await expect
      .poll(() => lines, { timeout: 10_000 })
      .toEqual([
        expect.stringMatching(
          /^autoscale up: 1 → 3 replica\(s\): calls in flight [\d.]+ for 1 s wants 3 \(target 4 per replica\)/,
        ),
        expect.stringMatching(/^autoscale down: 3 → 1 replica\(s\): calls in flight .* for 3 s/),
      ]);
    sub.unsubscribe();
  }, 150_000);
});

/** The remote `ip:port` of every established TCP connection of this machine's network namespace. */
function connectedTo(): Set<string> {
  return new Set(
    readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((cols) => cols[3] === '01') // ESTABLISHED
      .map((cols) => {
        const [ip, port] = cols[2].split(':');
        const octets = [3, 2, 1, 0].map((i) => parseInt(ip.slice(i * 2, i * 2 + 2), 16));
        return `${octets.join('.')}:${parseInt(port, 16)}`;
      }),
  );
}

/**
 * Handler time as an input (issue #16): an engine whose target backlog never asks for more
 * (AUTOSCALE_TARGET_BACKLOG 10000) scales a slow node on its pace alone: what waits in its
 * consumer is to be handled within AUTOSCALE_DRAIN_SECONDS (2 s) at the rate its replica acks.
 */
describe('node autoscaling on the pace of a slow node', () => {
  const env = testEnv();
  const rt = 'paced';
  const ver = 'greeter-v1';
  let engine: LocalEngine;

  beforeAll(async () => {
    engine = await startLocalEngine({
      env,
      name: 'kre-autoscale-pace-e2e-',
      openRuntimes: [rt],
      apps: ['deployer', 'gateway'],
      extra: {
        deployer: {
          WORKLOAD_READY_TIMEOUT_SECONDS: '60',
          AUTOSCALE_TARGET_BACKLOG: '10000',
          AUTOSCALE_DRAIN_SECONDS: '2',
          AUTOSCALE_UP_AFTER_SECONDS: '1',
          AUTOSCALE_COOLDOWN_SECONDS: '3',
        },
      },
    });
  }, 120_000);

  afterAll(() => engine?.close());

  it('scales out a node whose waiting messages would take longer than the drain time at its pace', async () => {
    const plane = engine.plane;
    await engine.createRuntime(rt, 'Paced');
    await seedGreeter(
      { work: engine.work, prefix: env.KRE_PREFIX, runtimeId: rt, plane },
      ver,
      slowGreeting('Hello'),
    );
    await boundSlowNode(plane, rt, ver);
    await startVersion(plane, rt, ver);
    const { lines, sub } = autoscaleLines(engine, env.KRE_PREFIX, rt, ver);

    // 160 calls: a replica takes 16 at a time, 800 ms each (20 a second): about 140 wait, 7 s
    // of work for one replica, far over 2 s; the backlog is far under the target.
    const calls = Array.from({ length: 160 }, (_, i) =>
      postJson(`${engine.gatewayHttp}/${rt}/versions/${ver}/Greet`, { name: `p${i}` }),
    );
    await expect
      .poll(async () => (await plane.versions.find(rt, ver))?.scale?.replicas, {
        timeout: 30_000,
        interval: 200,
      })
      .toBeGreaterThan(4);
    const answers = await Promise.all(calls);
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    await expect.poll(() => lines, { timeout: 10_000 }).not.toEqual([]);
    expect(lines[0]).toMatch(
      /^autoscale up: 1 → [23] replica\(s\): backlog \d+ for 1 s wants [23] \(\d+ waiting at [\d.]+\/s per replica, to be handled within 2 s\)$/,
    );
    sub.unsubscribe();
  }, 150_000);
});

/** A greeter's make-greeting that takes 800 ms a message (awaiting: 16 at once per replica). */
function slowGreeting(greeting: string): (dir: string) => Promise<void> {
  return (dir) =>
    writeFile(
      join(dir, 'src/make-greeting/handler.mjs'),
      `export async function handler(ctx, data) {
  await new Promise((resolve) => setTimeout(resolve, 800));
  return { text: \`${greeting}, \${data.name}!\` };
}
`,
    );
}

/** Bounds the greeter's make-greeting 1..3. */
async function boundSlowNode(plane: ControlPlane, rt: string, ver: string): Promise<void> {
  const { krt } = (await plane.versions.find(rt, ver))!;
  const workflow = krt.workflows[0];
  const slow = workflow.nodes.find((n) => n.src.includes('make-greeting'))!;
  await plane.versions.setNodeAutoscale(
    rt,
    ver,
    { workflow: workflow.name, node: slow.name },
    { min: 1, max: 3 },
  );
}

/** Starts a CREATED version through the deployer's job and waits until it is STARTED. */
async function startVersion(plane: ControlPlane, rt: string, ver: string): Promise<void> {
  await plane.versions.transition(rt, ver, [VersionStatus.CREATED], VersionStatus.STARTING);
  await plane.versionJobs.add('start', { runtimeId: rt, versionName: ver, by: 'e2e' });
  await expect
    .poll(async () => (await plane.versions.find(rt, ver))?.status, { timeout: 60_000 })
    .toBe(VersionStatus.STARTED);
}

/**
 * The version's autoscaling lines, as the deployer writes them into the runtime's observability
 * stream (those of one node, when given: `entrypoint` for the entrypoint's).
 */
function autoscaleLines(
  engine: LocalEngine,
  prefix: string,
  rt: string,
  version: string,
  node?: string,
): { lines: string[]; sub: Subscription } {
  const lines: string[] = [];
  const sub = engine.nc.subscribe(new Names(prefix).obsSubject(rt, 'logs'), {
    callback: (_error, msg) => {
      const record = decodeRecord('logs', msg.data);
      const origin = record.origin as { version?: string; node?: string } | undefined;
      if (origin?.version !== version || (node !== undefined && origin.node !== node)) return;
      if (typeof record.message === 'string' && record.message.startsWith('autoscale'))
        lines.push(record.message);
    },
  });
  return { lines, sub };
}
