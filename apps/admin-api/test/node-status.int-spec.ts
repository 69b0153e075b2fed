import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller, Module, type INestMicroservice, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, Payload, type CustomStrategy } from '@nestjs/microservices';
import { packKrt } from '@libs/krt';
import {
  DeployerClient,
  NatsRpcServer,
  connectNats,
  deployerSubjects,
  type WorkloadReplicaStatus,
} from '@libs/messaging';
import { Names } from '@libs/naming';
import { RuntimesRepository, VersionsRepository } from '@libs/persistence';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Client } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SubscriptionQueue } from '../src/common/subscription-queue.js';
import { NodeStatusService, type NodeStatusPause } from '../src/versions/node-status.service.js';
import type { NodeStatusEvent } from '../src/versions/versions.model.js';
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
 * answering what the test says and recording each request.
 */
class StandInDeployer {
  replicas: WorkloadReplicaStatus[] = [];
  readonly requests: unknown[] = [];
  private app?: INestMicroservice;
  private nc?: NatsConnection;

  constructor(
    private readonly url: string,
    private readonly credentials: string,
    private readonly subject: string,
    /** Nest's logger is process-wide: the stand-in must log where the app does. */
    private readonly logger: LoggerService,
  ) {}

  async start(): Promise<void> {
    if (this.app) return;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    @Controller()
    class NodeStatusStandIn {
      @MessagePattern(self.subject)
      nodeStatus(@Payload() payload: unknown) {
        self.requests.push(payload);
        return { replicas: self.replicas };
      }
    }
    @Module({ controllers: [NodeStatusStandIn] })
    class StandInModule {}
    // The deployer's own transport (NatsRpcServer on an authenticated connection).
    this.nc = await connectNats({
      url: this.url,
      credentials: this.credentials,
      name: 'deployer-stand-in',
    });
    this.app = await NestFactory.createMicroservice<CustomStrategy>(StandInModule, {
      strategy: new NatsRpcServer(this.nc),
      logger: this.logger,
    });
    await this.app.listen();
    // A round trip: the server holds the subscription before anyone asks (no "no responders").
    await this.nc.flush();
  }

  async stop(): Promise<void> {
    await this.app?.close();
    await this.nc?.close();
    this.app = undefined;
    this.nc = undefined;
  }
}

/**
 * The pause between two polls, held until the test says `tick()`: polls are counted by barriers
 * (`paused(n)`: the poller has finished its n-th poll and waits), never in wall-clock windows.
 */
class ManualPause {
  /** Pauses begun so far (one after each poll). */
  began = 0;
  private readonly held = new Set<() => void>();
  private readonly barriers: { count: number; resolve: () => void }[] = [];

  readonly pause: NodeStatusPause = (signal) =>
    new Promise<void>((resolve) => {
      const release = () => {
        this.held.delete(release);
        resolve();
      };
      this.held.add(release);
      signal.addEventListener('abort', release, { once: true });
      this.began++;
      for (const barrier of this.barriers.filter((b) => this.began >= b.count)) {
        this.barriers.splice(this.barriers.indexOf(barrier), 1);
        barrier.resolve();
      }
    });

  /** Pauses in progress (0 once the poller has stopped). */
  get holding(): number {
    return this.held.size;
  }

  /** Resolves once the poller has paused `count` times in all, i.e. finished its count-th poll. */
  paused(count: number): Promise<void> {
    if (this.began >= count) return Promise.resolve();
    return new Promise((resolve) => this.barriers.push({ count, resolve }));
  }

  /** Ends the pause in progress: the next poll starts. */
  tick(): void {
    for (const release of [...this.held]) release();
  }
}

/** What waits in a subscriber's queue, taken without waiting for more. */
async function taken<T>(queue: SubscriptionQueue<T>): Promise<T[]> {
  const events: T[] = [];
  while (queue.size > 0) {
    const result = await queue.next();
    if (result.done) break;
    events.push(result.value);
  }
  return events;
}

/** Subscribes and collects every event (or the error that ended it). */
function watch(client: Client, runtimeId: string, versionName: string) {
  const events: NodeEvent[] = [];
  let error: unknown;
  const dispose = client.subscribe<{ watchNodeStatus: NodeEvent }>(
    { query: WATCH, variables: { r: runtimeId, v: versionName } },
    {
      next: (result) => {
        if (result.data) events.push(result.data.watchNodeStatus);
        if (result.errors) error = result.errors;
      },
      error: (e) => (error = e),
      complete: () => undefined,
    },
  );
  return {
    events,
    dispose,
    error: () => error,
  };
}

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
  /** Subscriptions of the running test, ended after it. */
  const open: { dispose: () => void }[] = [];
  const subscribe = (session: string, runtimeId: string, versionName: string) => {
    const sub = watch(ws(session), runtimeId, versionName);
    open.push(sub);
    return sub;
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
      h.env.NATS_CREDS,
      deployerSubjects(new Names(h.env.KRE_PREFIX)).nodeStatus,
      h.logs,
    );
  });
  afterAll(async () => {
    for (const client of clients) await client.dispose();
    await deployer?.stop();
    await h?.close();
    await rm(work, { recursive: true, force: true });
  });

  // Every test starts from a running deployer with every node RUNNING and nothing watched.
  beforeEach(async () => {
    deployer.replicas = GREETER_NODES.map((id) => running(id));
    await deployer.start();
  });
  afterEach(async () => {
    for (const sub of open.splice(0)) sub.dispose();
    await expect.poll(() => h.get(NodeStatusService).watched(), { timeout: 5_000 }).toEqual([]);
  });

  describe('over GraphQL', () => {
    it('gives a VIEWER member every node of the version at once, then only the node that changed', async () => {
      const sub = subscribe(viewer.session, 'rt-ns', 'greeter-v1');
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
      expect(deployer.requests.at(-1)).toEqual({ runtimeId: 'rt-ns', versionName: 'greeter-v1' });

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
    });

    it('shows a version that does not run as every node STOPPED', async () => {
      deployer.replicas = [];
      const sub = subscribe(admin, 'rt-ns', 'greeter-v1');
      await expect.poll(() => sub.events.length, { timeout: 5_000 }).toBe(4);
      expect(sub.events.map((e) => [e.nodeId, e.status, e.replicas])).toEqual(
        GREETER_NODES.map((id) => [id, 'STOPPED', []]),
      );
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

    it('shares one poller between the subscribers of a version, and stops when the last leaves', async () => {
      const first = subscribe(viewer.session, 'rt-ns', 'greeter-v1');
      await expect.poll(() => first.events.length, { timeout: 5_000 }).toBe(4);
      // A second subscriber gets the last known state at once.
      const second = subscribe(admin, 'rt-ns', 'greeter-v1');
      await expect.poll(() => second.events.length, { timeout: 1_000 }).toBe(4);
      expect(second.events).toEqual(first.events);
      expect(h.get(NodeStatusService).watched()).toEqual(['rt-ns:greeter-v1']);
      first.dispose();
      second.dispose();
      await expect.poll(() => h.get(NodeStatusService).watched(), { timeout: 5_000 }).toEqual([]);
      expect(first.error() ?? second.error()).toBeUndefined();
    });
  });

  // The service as the resolver uses it, on the app's DeployerClient (real NATS, the stand-in),
  // with the pause between polls in the test's hands.
  describe('polling', () => {
    let pause: ManualPause;
    let sut: NodeStatusService;
    let version: Awaited<ReturnType<VersionsRepository['get']>>;
    beforeEach(async () => {
      pause = new ManualPause();
      sut = new NodeStatusService(h.get(DeployerClient), pause.pause);
      version = await h.get(VersionsRepository).get('rt-ns', 'greeter-v1');
    });
    afterEach(() => sut.onModuleDestroy());

    const ids = (events: NodeStatusEvent[]) => events.map((e) => e.nodeId);

    it('asks once per pause for all subscribers of a version; nothing changes, nothing is sent', async () => {
      const before = deployer.requests.length;
      const first = sut.subscribe(version);
      await pause.paused(1);
      expect(deployer.requests.length - before).toBe(1);
      expect(ids(await taken(first))).toEqual(GREETER_NODES);

      // A second subscriber: the last known state at once, without a request of its own.
      const second = sut.subscribe(version);
      expect(ids(await taken(second))).toEqual(GREETER_NODES);
      expect(deployer.requests.length - before).toBe(1);
      expect(sut.watched()).toEqual(['rt-ns:greeter-v1']);

      pause.tick();
      await pause.paused(2);
      expect(deployer.requests.length - before).toBe(2); // one poller, not one per subscriber
      expect(first.size + second.size).toBe(0); // nothing changed

      deployer.replicas = deployer.replicas.map((r) =>
        r.workloadId === 'greet.format-reply' ? { ...r, restarts: 1 } : r,
      );
      pause.tick();
      await pause.paused(3);
      expect(deployer.requests.length - before).toBe(3);
      for (const sub of [first, second])
        expect(await taken(sub)).toMatchObject([
          { nodeId: 'greet.format-reply', replicas: [{ restarts: 1 }] },
        ]);
    });

    it('stops asking when the last subscriber leaves', async () => {
      const before = deployer.requests.length;
      const first = sut.subscribe(version);
      const second = sut.subscribe(version);
      await pause.paused(1);
      await first.return();
      expect(sut.watched()).toEqual(['rt-ns:greeter-v1']);
      expect(pause.holding).toBe(1);
      await second.return();
      expect(sut.watched()).toEqual([]);
      expect(pause.holding).toBe(0); // the pause was cut short, and no other began
      expect(pause.began).toBe(1);
      expect(deployer.requests.length - before).toBe(1);
    });

    it('while the deployer does not answer: nothing new, logged once, the subscription stays open; then it resumes', async () => {
      const logsFrom = h.logs.lines.length;
      const logged = (text: string) =>
        h.logs.lines.slice(logsFrom).filter((line) => line.includes(text)).length;
      const sub = sut.subscribe(version);
      await pause.paused(1);
      expect(await taken(sub)).toHaveLength(4);

      await deployer.stop();
      for (let poll = 2; poll <= 4; poll++) {
        pause.tick();
        await pause.paused(poll);
      }
      expect(logged('no node status from the deployer (rt-ns/greeter-v1)')).toBe(1);
      expect(sub.size).toBe(0);
      expect(sub.ended).toBe(false);

      deployer.replicas = deployer.replicas.map((r) =>
        r.workloadId === 'entrypoint' ? { ...r, restarts: 2 } : r,
      );
      await deployer.start();
      pause.tick();
      await pause.paused(5);
      expect(await taken(sub)).toMatchObject([
        { nodeId: 'entrypoint', status: 'STARTED', replicas: [{ restarts: 2 }] },
      ]);
      expect(logged('node status of rt-ns/greeter-v1: the deployer answers again')).toBe(1);
      expect(sub.ended).toBe(false);
    });
  });
});
