import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller, Module, type INestMicroservice, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, Payload, Transport } from '@nestjs/microservices';
import { packKrt } from '@libs/krt';
import { deployerSubjects, type WorkloadReplicaStatus } from '@libs/messaging';
import { Names } from '@libs/naming';
import { RuntimesRepository } from '@libs/persistence';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeStatusService } from '../src/runtimes/node-status.service.js';
import { firstEvent, Harness } from './harness.js';

const WATCH = `subscription($r: ID!, $v: String!) {
  watchNodeStatus(runtimeId: $r, versionName: $v) {
    runtimeId versionName nodeId name workflow status replicas { replica state restarts message }
  }
}`;

interface NodeEvent {
  runtimeId: string;
  versionName: string;
  nodeId: string;
  name: string;
  workflow: string | null;
  status: string;
  replicas: { replica: number; state: string; restarts: number; message: string | null }[];
}

const GREETER_NODES = [
  'entrypoint',
  'greet.clean-name',
  'greet.make-greeting',
  'greet.format-reply',
];
const running = (workloadId: string, restarts = 0): WorkloadReplicaStatus => ({
  workloadId,
  replica: 0,
  state: 'RUNNING',
  restarts,
  message: null,
});

/**
 * A stand-in for the deployer's node-status pattern (the real one is exercised with the local
 * driver in apps/deployer and e2e/walkthrough): a Nest NATS microservice on the real test NATS,
 * answering what the test says and counting requests, so polling can be asserted exactly.
 */
class StandInDeployer {
  replicas: WorkloadReplicaStatus[] = [];
  readonly requests: { at: number; payload: unknown }[] = [];
  private app?: INestMicroservice;

  constructor(
    private readonly url: string,
    private readonly subject: string,
    /** Nest's logger is process-wide: the stand-in must log where the app does. */
    private readonly logger: LoggerService,
  ) {}

  async start(): Promise<void> {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    @Controller()
    class NodeStatusStandIn {
      @MessagePattern(self.subject)
      nodeStatus(@Payload() payload: unknown) {
        self.requests.push({ at: Date.now(), payload });
        return { replicas: self.replicas };
      }
    }
    @Module({ controllers: [NodeStatusStandIn] })
    class StandInModule {}
    this.app = await NestFactory.createMicroservice(StandInModule, {
      transport: Transport.NATS,
      options: { servers: this.url, name: 'deployer-stand-in' },
      logger: this.logger,
    });
    await this.app.listen();
  }

  async stop(): Promise<void> {
    await this.app?.close();
    this.app = undefined;
  }

  requestsSince(at: number): number {
    return this.requests.filter((r) => r.at >= at).length;
  }
}

/** Subscribes and collects every event (or the error that ended it). */
function watch(client: Client, runtimeId: string, versionName: string) {
  const events: NodeEvent[] = [];
  let error: unknown;
  let completed = false;
  const dispose = client.subscribe<{ watchNodeStatus: NodeEvent }>(
    { query: WATCH, variables: { r: runtimeId, v: versionName } },
    {
      next: (result) => {
        if (result.data) events.push(result.data.watchNodeStatus);
        if (result.errors) error = result.errors;
      },
      error: (e) => (error = e),
      complete: () => (completed = true),
    },
  );
  return {
    events,
    dispose,
    ended: () => completed || error !== undefined,
    error: () => error,
    /** The newest event of each node. */
    latest: () => new Map(events.map((e) => [e.nodeId, e])),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('watchNodeStatus', () => {
  let h: Harness;
  let work: string;
  let admin: string;
  let viewer: { id: string; email: string; session: string };
  let outsider: { id: string; email: string; session: string };
  let deployer: StandInDeployer;
  const clients: Client[] = [];
  const ws = (session: string) => {
    const { client } = h.ws({ auth: { session } });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    h = await Harness.start();
    work = await mkdtemp(join(tmpdir(), 'kre-node-status-'));
    admin = await h.signIn(h.adminEmail);
    viewer = await h.user('ns-viewer', 'USER', admin);
    outsider = await h.user('ns-outsider', 'USER', admin);
    for (const [id, member] of [
      ['rt-ns', viewer],
      ['rt-other', outsider],
    ] as const) {
      const created = await h.gql(
        'mutation($id: ID!, $name: String!) { createRuntime(input: {id: $id, name: $name}) { id } }',
        { id, name: id },
        { session: admin },
      );
      if (created.errors) throw new Error(JSON.stringify(created.errors));
      await h.get(RuntimesRepository).setStatus(id, 'CREATED'); // what the deployer's job does
      const added = await h.gql(
        'mutation($r: ID!, $e: String!) { addRuntimeMember(input: {runtimeId: $r, email: $e, role: VIEWER}) { role } }',
        { r: id, e: member.email },
        { session: admin },
      );
      if (added.errors) throw new Error(JSON.stringify(added.errors));
    }
    const krt = join(work, 'greeter.krt');
    await packKrt('examples/greeter', krt, { prefix: h.env.KRE_PREFIX });
    const form = new FormData();
    form.append('file', new Blob([await readFile(krt)]), 'greeter.krt');
    const uploaded = await fetch(`${h.url}/api/v1/runtimes/rt-ns/versions`, {
      method: 'POST',
      headers: { ...h.authHeaders({ session: admin }), 'x-requested-with': 'test' },
      body: form,
    });
    if (uploaded.status !== 201) throw new Error(`upload: ${uploaded.status}`);

    deployer = new StandInDeployer(
      h.env.NATS_URL,
      deployerSubjects(new Names(h.env.KRE_PREFIX)).nodeStatus,
      h.logs,
    );
    deployer.replicas = GREETER_NODES.map((id) => running(id));
    await deployer.start();
  });
  afterAll(async () => {
    for (const client of clients) await client.dispose();
    await deployer?.stop();
    await h?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('gives a VIEWER member every node of the version at once, then only the node that changed', async () => {
    const sub = watch(ws(viewer.session), 'rt-ns', 'greeter-v1');
    await expect.poll(() => sub.events.length, { timeout: 5_000 }).toBe(4);
    expect(sub.events.map((e) => e.nodeId)).toEqual(GREETER_NODES);
    expect(sub.events[1]).toEqual({
      runtimeId: 'rt-ns',
      versionName: 'greeter-v1',
      nodeId: 'greet.clean-name',
      name: 'clean-name',
      workflow: 'greet',
      status: 'STARTED',
      replicas: [{ replica: 0, state: 'RUNNING', restarts: 0, message: null }],
    });
    expect(sub.events[0]).toMatchObject({ name: 'entrypoint', workflow: null });
    expect(deployer.requests.at(-1)?.payload).toEqual({
      runtimeId: 'rt-ns',
      versionName: 'greeter-v1',
    });

    // A crash of one node: that node alone, as ERROR with the reason.
    deployer.replicas = deployer.replicas.map((r) =>
      r.workloadId === 'greet.make-greeting'
        ? { ...r, state: 'RESTARTING', restarts: 1, message: 'exited with code 1' }
        : r,
    );
    await expect.poll(() => sub.events.length, { timeout: 5_000 }).toBe(5);
    expect(sub.events[4]).toMatchObject({
      nodeId: 'greet.make-greeting',
      status: 'ERROR',
      replicas: [{ state: 'RESTARTING', restarts: 1, message: 'exited with code 1' }],
    });
    // Running again, with the restart counted.
    deployer.replicas = deployer.replicas.map((r) =>
      r.workloadId === 'greet.make-greeting' ? { ...r, state: 'RUNNING' } : r,
    );
    await expect.poll(() => sub.events.length, { timeout: 5_000 }).toBe(6);
    expect(sub.events[5]).toMatchObject({
      nodeId: 'greet.make-greeting',
      status: 'STARTED',
      replicas: [{ state: 'RUNNING', restarts: 1 }],
    });
    // Nothing changes: nothing is sent.
    const polled = deployer.requests.length;
    await expect.poll(() => deployer.requests.length, { timeout: 5_000 }).toBe(polled + 1);
    expect(sub.events).toHaveLength(6);
    sub.dispose();
  });

  it('shows a version that does not run as every node STOPPED', async () => {
    deployer.replicas = [];
    const sub = watch(ws(admin), 'rt-ns', 'greeter-v1');
    await expect.poll(() => sub.events.length, { timeout: 5_000 }).toBe(4);
    expect(sub.events.map((e) => [e.nodeId, e.status, e.replicas])).toEqual(
      GREETER_NODES.map((id) => [id, 'STOPPED', []]),
    );
    sub.dispose();
    deployer.replicas = GREETER_NODES.map((id) => running(id));
  });

  it('refuses a non-member, and an unknown version, with NOT_FOUND', async () => {
    const refusal = async (session: string, runtimeId: string, versionName: string) => {
      const client = ws(session);
      const error = await firstEvent(client, WATCH, { r: runtimeId, v: versionName }).value.then(
        () => null,
        (e: Error) =>
          (JSON.parse(e.message) as { message: string; extensions: { code: string } }[])[0],
      );
      return error && { code: error.extensions.code, message: error.message };
    };
    expect(await refusal(outsider.session, 'rt-ns', 'greeter-v1')).toEqual({
      code: 'NOT_FOUND',
      message: 'runtime "rt-ns" not found',
    });
    expect(await refusal(viewer.session, 'rt-ns', 'nope-v9')).toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(h.get(NodeStatusService).watched()).toEqual([]);
  });

  it('polls once per version for all its subscribers, every ~2 s, and stops when the last leaves', async () => {
    const first = watch(ws(viewer.session), 'rt-ns', 'greeter-v1');
    await expect.poll(() => first.events.length, { timeout: 5_000 }).toBe(4);
    // A second subscriber gets the last known state at once, without a request of its own.
    const before = deployer.requests.length;
    const second = watch(ws(admin), 'rt-ns', 'greeter-v1');
    await expect.poll(() => second.events.length, { timeout: 1_000 }).toBe(4);
    expect(deployer.requests.length - before).toBeLessThanOrEqual(1); // at most the timer's own
    expect(h.get(NodeStatusService).watched()).toEqual(['rt-ns:greeter-v1']);

    const from = Date.now();
    await sleep(5_000);
    const requests = deployer.requestsSince(from);
    expect(requests).toBeGreaterThanOrEqual(2);
    expect(requests).toBeLessThanOrEqual(3); // one poller, not one per subscriber

    first.dispose();
    await sleep(100);
    expect(h.get(NodeStatusService).watched()).toEqual(['rt-ns:greeter-v1']);
    second.dispose();
    await expect.poll(() => h.get(NodeStatusService).watched()).toEqual([]);
    const stoppedAt = Date.now();
    await sleep(3_000);
    expect(deployer.requestsSince(stoppedAt + 200)).toBe(0);
  });

  it('while the deployer does not answer: nothing new, logged once, the subscription stays open; then it resumes', async () => {
    const sub = watch(ws(viewer.session), 'rt-ns', 'greeter-v1');
    await expect.poll(() => sub.events.length, { timeout: 5_000 }).toBe(4);
    await deployer.stop();
    const failures = () =>
      h.logs.lines.filter((l) => l.includes('no node status from the deployer (rt-ns/greeter-v1)'))
        .length;
    await expect.poll(failures, { timeout: 10_000 }).toBe(1);
    await sleep(4_500); // two more failed polls, 2 s apart (no responders: they fail at once)
    expect(failures()).toBe(1);
    expect(sub.events).toHaveLength(4);
    expect(sub.ended()).toBe(false);

    deployer.replicas = deployer.replicas.map((r) =>
      r.workloadId === 'entrypoint' ? { ...r, restarts: 2 } : r,
    );
    await deployer.start();
    await expect.poll(() => sub.events.length, { timeout: 10_000 }).toBe(5);
    expect(sub.events[4]).toMatchObject({
      nodeId: 'entrypoint',
      status: 'STARTED',
      replicas: [{ restarts: 2 }],
    });
    expect(h.logs.text()).toContain('node status of rt-ns/greeter-v1: the deployer answers again');
    expect(sub.error()).toBeUndefined();
    sub.dispose();
  });
});
