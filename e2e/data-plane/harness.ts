import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  GatewayRoutes,
  InvocationKeysBucket,
  type StreamSettings,
  type SubscriptionSpec,
  type WorkflowStreamsPlan,
  connectNats,
  decodeRecord,
  provisionObservabilityStream,
  planVersionResources,
  planWorkflowStreams,
  provisionVersionResources,
  type NodeStores,
  type RecordKind,
} from '@libs/messaging';
import { Names } from '@libs/naming';
import {
  type AppProcess,
  freePort,
  runApp,
  type testEnv,
  waitForHttp,
  workloadCredentials,
} from '@libs/testing';

export type TestEnv = ReturnType<typeof testEnv>;

/** A node as the tests declare it (the shape of a KRT v2 node). */
export interface NodeSpec {
  name: string;
  src: string;
  subscriptions: SubscriptionSpec[];
  replicas?: number;
  objectStore?: { name: string; scope: 'workflow' | 'project' };
  /** Extra env of this node's runners (e.g. KRT_HANDLER_TIMEOUT). */
  env?: Record<string, string>;
  displayName?: string;
}

export interface WorkflowSpec {
  name: string;
  /** The rpc of `service Entrypoint` that starts it. */
  rpc: string;
  exitpoint: string;
  nodes: NodeSpec[];
  /** Over the version's settings, for this workflow's stream and consumers. */
  settings?: Partial<StreamSettings>;
}

/** One version of one runtime: a KRT folder and its workflows. */
export interface VersionSpec {
  runtimeId: string;
  version: string;
  krtDir: string;
  proto: string;
  workflows: WorkflowSpec[];
  settings?: Partial<StreamSettings>;
  config?: Record<string, string>;
}

export interface Provisioned {
  spec: VersionSpec;
  plans: Record<string, WorkflowStreamsPlan>;
  stores: Record<string, NodeStores>;
}

export interface Endpoint {
  process: AppProcess;
  http: string;
  grpc: string;
  health: string;
}

/**
 * Runs a data plane for the e2e tests: provisions streams, consumers and stores with the one
 * provisioning function, and starts the built apps as processes with the workload env (what
 * the deployer and the local driver do in production).
 */
export class DataPlane {
  readonly names: Names;
  nc!: NatsConnection;
  jsm!: JetStreamManager;
  private readonly processes: AppProcess[] = [];
  /** Each provisioned version's NATS identity (a `.creds` file), as the deployer mints it. */
  private readonly credentials = new Map<string, string>();

  constructor(readonly env: TestEnv) {
    this.names = new Names(env.KRE_PREFIX);
  }

  async connect(): Promise<void> {
    this.nc = await connectNats({
      url: this.env.NATS_URL,
      credentials: this.env.NATS_CREDS,
      name: 'e2e-data-plane',
    });
    this.jsm = await jetstreamManager(this.nc);
  }

  async close(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop(15_000)));
    await this.nc?.drain();
  }

  track(process: AppProcess): AppProcess {
    this.processes.push(process);
    return process;
  }

  async provision(spec: VersionSpec): Promise<Provisioned> {
    const { runtimeId: rt, version } = spec;
    // The deployer's enumeration, with this suite's per-workflow stream settings.
    const workflows = spec.workflows.map((wf) =>
      planWorkflowStreams(this.names, rt, version, wf, {
        storage: 'memory',
        ...spec.settings,
        ...wf.settings,
      }),
    );
    const resources = {
      ...planVersionResources(this.names, rt, version, spec.workflows),
      workflows,
    };
    await provisionVersionResources(this.nc, resources, { storage: 'memory' });
    const plans: Record<string, WorkflowStreamsPlan> = Object.fromEntries(
      workflows.map((plan, i) => [spec.workflows[i].name, plan]),
    );
    const stores = resources.nodeStores;
    await provisionObservabilityStream(this.jsm, this.names, spec.runtimeId, { storage: 'memory' });
    this.credentials.set(`${rt}/${version}`, await workloadCredentials(this.env, resources));
    return { spec, plans, stores };
  }

  private workloadEnv(spec: VersionSpec): Record<string, string> {
    const rt = spec.runtimeId;
    return {
      KRE_PREFIX: this.env.KRE_PREFIX,
      LOG_LEVEL: 'log',
      KRT_RUNTIME_ID: rt,
      KRT_VERSION: spec.version,
      KRT_VERSION_ID: `${rt}:${spec.version}`,
      KRT_NATS_SERVER: this.env.NATS_URL,
      KRT_NATS_CREDS: this.credentials.get(`${rt}/${spec.version}`) ?? '',
      KRT_NATS_INBOX_PREFIX: this.names.workloadInboxPrefix(rt, spec.version),
      KRT_BASE_PATH: spec.krtDir,
      KRT_NATS_OBS_PREFIX: this.names.obsPrefix(rt),
      KRT_NATS_DATA_PREFIX: this.names.dataPrefix(rt),
      KRT_ENTRYPOINT_PROTO: spec.proto,
      KRT_NATS_KEY_VALUE_STORE_PROJECT: this.names.projectBucket(rt, spec.version),
      KRT_CONFIG_KEYS: Object.keys(spec.config ?? {}).join(','),
      ...spec.config,
    };
  }

  /** The env of one runner of `workflow/node`. */
  async runnerEnv(
    p: Provisioned,
    workflow: string,
    node: string,
    extra: Record<string, string> = {},
  ) {
    const wf = p.spec.workflows.find((w) => w.name === workflow)!;
    const spec = wf.nodes.find((n) => n.name === node)!;
    const wiring = p.plans[workflow].nodes[node];
    const stores = p.stores[`${workflow}/${node}`];
    return {
      ...this.workloadEnv(p.spec),
      KRT_HEALTH_PORT: String(await freePort()),
      KRT_WORKFLOW_NAME: workflow,
      KRT_NODE_NAME: spec.displayName ?? node,
      KRT_NODE_ID: node,
      KRT_HANDLER_PATH: spec.src,
      KRT_NATS_STREAM: p.plans[workflow].stream,
      KRT_NATS_INPUTS: wiring.natsInputs,
      KRT_NATS_OUTPUT: wiring.output,
      KRT_IS_EXITPOINT: String(wf.exitpoint === node),
      KRT_NATS_KEY_VALUE_STORE_WORKFLOW: stores.workflow,
      KRT_NATS_KEY_VALUE_STORE_NODE: stores.node,
      ...(stores.objectStore ? { KRT_NATS_OBJECT_STORE: stores.objectStore } : {}),
      ...spec.env,
      ...extra,
    };
  }

  /** Starts one runner of `workflow/node` and waits until it is bound (readyz). */
  async startRunner(
    p: Provisioned,
    workflow: string,
    node: string,
    extra: Record<string, string> = {},
  ) {
    const env = await this.runnerEnv(p, workflow, node, extra);
    const process = this.track(runApp('runner', env));
    await waitForHttp(`http://127.0.0.1:${env.KRT_HEALTH_PORT}/readyz`, process, 60_000);
    return process;
  }

  /** Starts every node's replicas, in parallel. */
  async startRunners(p: Provisioned): Promise<Record<string, AppProcess[]>> {
    const out: Record<string, AppProcess[]> = {};
    const starts: Promise<void>[] = [];
    for (const wf of p.spec.workflows)
      for (const node of wf.nodes) {
        const key = `${wf.name}/${node.name}`;
        out[key] = [];
        for (let i = 0; i < (node.replicas ?? 1); i++)
          starts.push(
            this.startRunner(p, wf.name, node.name).then((proc) => void out[key].push(proc)),
          );
      }
    await Promise.all(starts);
    return out;
  }

  /** Starts the version's entrypoint and waits until it serves. */
  async startEntrypoint(p: Provisioned, extra: Record<string, string> = {}): Promise<Endpoint> {
    const [health, grpcPort, httpPort] = [await freePort(), await freePort(), await freePort()];
    const routes = Object.fromEntries(
      p.spec.workflows.map((wf) => [
        wf.rpc,
        {
          workflow: wf.name,
          stream: p.plans[wf.name].stream,
          subject: p.plans[wf.name].entrySubject,
        },
      ]),
    );
    const process = this.track(
      runApp('entrypoint', {
        ...this.workloadEnv(p.spec),
        KRT_LISTEN_HOST: '127.0.0.1',
        KRT_HEALTH_PORT: String(health),
        KRT_GRPC_PORT: String(grpcPort),
        KRT_HTTP_PORT: String(httpPort),
        KRT_ENTRYPOINT_ROUTES: JSON.stringify(routes),
        ...extra,
      }),
    );
    await waitForHttp(`http://127.0.0.1:${health}/readyz`, process, 60_000);
    return {
      process,
      http: `127.0.0.1:${httpPort}`,
      grpc: `127.0.0.1:${grpcPort}`,
      health: `127.0.0.1:${health}`,
    };
  }

  /** Starts a gateway of this installation (`extra`: more env, e.g. OTEL_*). */
  async startGateway(extra: Record<string, string> = {}): Promise<Endpoint> {
    // admin-api creates the invocation keys bucket; a gateway only reads it (and is not ready
    // until it exists).
    await InvocationKeysBucket.open(this.nc, this.names);
    const [health, grpcPort, httpPort] = [await freePort(), await freePort(), await freePort()];
    const process = this.track(
      runApp('gateway', {
        ...this.env,
        GATEWAY_HEALTH_PORT: String(health),
        GATEWAY_HTTP_PORT: String(httpPort),
        GATEWAY_GRPC_PORT: String(grpcPort),
        ...extra,
      }),
    );
    await waitForHttp(`http://127.0.0.1:${health}/readyz`, process, 60_000);
    return {
      process,
      http: `127.0.0.1:${httpPort}`,
      grpc: `127.0.0.1:${grpcPort}`,
      health: `127.0.0.1:${health}`,
    };
  }

  async startMongoWriter(): Promise<AppProcess> {
    const port = await freePort();
    const process = this.track(
      runApp('mongo-writer', { ...this.env, MONGO_WRITER_HEALTH_PORT: String(port) }),
    );
    await waitForHttp(`http://127.0.0.1:${port}/readyz`, process, 60_000);
    return process;
  }

  /**
   * Writes the gateway routes of a started (and optionally published) version, and the
   * runtime's invocation keys entry as admin-api would (none needed: these tests are about the
   * data plane; gateway.int-spec.ts and the walkthrough test the keys).
   */
  async route(
    runtimeId: string,
    version: string,
    entrypoint: Endpoint,
    publish = true,
  ): Promise<void> {
    const keys = await InvocationKeysBucket.open(this.nc, this.names);
    await keys.put(runtimeId, { generation: 1, requireKey: false, keys: [] });
    const routes = await GatewayRoutes.open(this.nc, this.names);
    await routes.addVersion(runtimeId, version, { http: entrypoint.http, grpc: entrypoint.grpc });
    if (publish)
      await routes.publish(runtimeId, version, { http: entrypoint.http, grpc: entrypoint.grpc });
  }

  /** Every record on the runtime's observability stream, validated against its schema. */
  async records(
    runtimeId: string,
  ): Promise<{ kind: RecordKind; record: Record<string, unknown> }[]> {
    const stream = this.names.obsStream(runtimeId);
    const info = await this.jsm.streams.info(stream);
    const out: { kind: RecordKind; record: Record<string, unknown> }[] = [];
    for (
      let seq = info.state.first_seq;
      seq <= info.state.last_seq && info.state.messages > 0;
      seq++
    ) {
      const msg = await this.jsm.streams.getMessage(stream, { seq });
      if (!msg) continue;
      const kind = msg.subject.split('.').pop() as RecordKind;
      out.push({ kind, record: decodeRecord(kind, msg.data) }); // throws when invalid
    }
    return out;
  }
}

/** POSTs JSON and returns status and parsed body. */
export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { raw: text };
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

/** A gRPC client for the `service Entrypoint` of a proto (optionally through the gateway). */
export function grpcClient(protoFile: string, includeDirs: string[], address: string) {
  const definition = protoLoader.loadSync(protoFile, {
    keepCase: false,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
    includeDirs,
  });
  const packageObject = grpc.loadPackageDefinition(definition);
  const serviceName = Object.keys(definition).find((k) => k.endsWith('.Entrypoint'))!;
  let Ctor: unknown = packageObject;
  for (const part of serviceName.split('.')) Ctor = (Ctor as Record<string, unknown>)[part];
  const client = new (Ctor as grpc.ServiceClientConstructor)(
    address,
    grpc.credentials.createInsecure(),
  );
  const call = <T = Record<string, unknown>>(
    rpc: string,
    request: unknown,
    metadata: Record<string, string> = {},
    timeoutMs = 20_000,
  ): Promise<{ response?: T; error?: grpc.ServiceError }> =>
    new Promise((resolve) => {
      const md = new grpc.Metadata();
      for (const [k, v] of Object.entries(metadata)) md.set(k, v);
      const method = (client as unknown as Record<string, (...args: unknown[]) => void>)[rpc].bind(
        client,
      );
      method(
        request,
        md,
        { deadline: Date.now() + timeoutMs },
        (error: grpc.ServiceError | null, response: T) => resolve(error ? { error } : { response }),
      );
    });
  return { client, call, close: () => client.close() };
}
