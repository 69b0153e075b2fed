import { dirname } from 'node:path';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import {
  type Consumer,
  type ConsumerMessages,
  type JetStreamClient,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { type MsgHdrs, type NatsConnection, headers } from '@nats-io/transport-node';
import { resolveInsideKrt, workloadConfigValues } from '@libs/config';
import {
  JetStreamPublisher,
  KreHeader,
  type KreMessage,
  NATS_CONNECTION,
  PROPAGATED_HEADERS,
  PayloadCodec,
  decodeEnvelope,
  decompressIfNeeded,
  loadProtoRoot,
  payloadLimit,
} from '@libs/messaging';
import { Configuration, DataClient, NodeObjectStore } from './context-services.js';
import { type ContextDeps, createContext, frozenConfig } from './handler-context.js';
import type { HandlerModule } from './handler-module.js';
import { MessageScope, type ScopeDeps, TransientPublishError } from './message-scope.js';
import { ObsPublisher } from './obs-publisher.js';
import type { RunnerEnv } from './runner.env.js';
import { Semaphore } from './semaphore.js';
import { attachCaptureSink, detachCaptureSink, runAsUserCode } from './stdio-capture.js';

export const RUNNER_ENV = Symbol('RUNNER_ENV');
export const HANDLER_MODULE = Symbol('HANDLER_MODULE');

class HandlerTimeoutError extends Error {
  constructor(seconds: number) {
    super(`the handler did not finish within ${seconds} s (KRT_HANDLER_TIMEOUT)`);
    this.name = 'HandlerTimeoutError';
  }
}

interface Input {
  subject: string;
  consumer: string;
  bound: boolean;
  ackWaitMs: number;
}

const REPLY_SUBJECT = /^[^\s*>]+$/;
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));
const delay = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * Runs one node (one replica): binds the durable consumers the deployer created, calls the
 * team's handler for each message with a bounded number in flight, extends AckWait with
 * in-progress acks while a handler runs, routes what it sends as ARCHITECTURE.md's table says,
 * and acks after. On SIGTERM it stops taking work and finishes what it holds.
 */
@Injectable()
export class NodeRunner implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Runner');
  private readonly js: JetStreamClient;
  private readonly slots: Semaphore;
  private readonly inputs: Input[];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly iterators = new Set<ConsumerMessages>();
  private readonly replica = `${hostname()}-${process.pid}`;
  private codec!: PayloadCodec;
  private publisher!: JetStreamPublisher;
  private obs!: ObsPublisher;
  private deps!: ContextDeps;
  private scopeDeps!: ScopeDeps;
  private stopping = false;
  /** Filter subjects of the stream's consumers; undefined until read (then: publish always). */
  private interest?: Set<string>;
  private interestTimer?: NodeJS.Timeout;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(RUNNER_ENV) private readonly env: RunnerEnv,
    @Inject(HANDLER_MODULE) private readonly mod: HandlerModule,
  ) {
    this.js = jetstream(nc);
    this.slots = new Semaphore(env.KRT_MAX_IN_FLIGHT);
    this.inputs = env.KRT_NATS_INPUTS.map((i) => ({ ...i, bound: false, ackWaitMs: 5_000 }));
  }

  /** Ready = bound to every consumer, and not stopping. */
  readiness(): { ready: boolean; reason: string } {
    if (this.stopping) return { ready: false, reason: 'stopping' };
    const waiting = this.inputs.filter((i) => !i.bound).map((i) => i.consumer);
    return waiting.length
      ? {
          ready: false,
          reason: `not bound to consumer(s) ${waiting.join(', ')} of ${this.env.KRT_NATS_STREAM}`,
        }
      : { ready: true, reason: 'bound' };
  }

  /** Sets up the context, runs `init(ctx)`, then binds the consumers in the background. */
  async onApplicationBootstrap(): Promise<void> {
    const env = this.env;
    this.codec = new PayloadCodec(
      env.KRT_ENTRYPOINT_PROTO
        ? this.loadProtos(env.KRT_BASE_PATH, env.KRT_ENTRYPOINT_PROTO)
        : undefined,
    );
    this.obs = new ObsPublisher(this.nc, this.js, env.KRT_NATS_OBS_PREFIX, {
      runtimeId: env.KRT_RUNTIME_ID,
      version: env.KRT_VERSION,
      workflow: env.KRT_WORKFLOW_NAME,
      node: env.KRT_NODE_ID,
      replica: this.replica,
    });
    attachCaptureSink((line, stream, requestId) =>
      this.obs.log(stream === 'STDERR' ? 'ERROR' : 'INFO', line, { source: stream, requestId }),
    );
    this.deps = {
      runtimeId: env.KRT_RUNTIME_ID,
      version: env.KRT_VERSION,
      workflow: env.KRT_WORKFLOW_NAME,
      nodeId: env.KRT_NODE_ID,
      nodeName: env.KRT_NODE_NAME,
      basePath: env.KRT_BASE_PATH,
      config: frozenConfig(workloadConfigValues(env.KRT_CONFIG_KEYS)),
      obs: this.obs,
      configuration: new Configuration(this.js, {
        node: env.KRT_NATS_KEY_VALUE_STORE_NODE,
        workflow: env.KRT_NATS_KEY_VALUE_STORE_WORKFLOW,
        project: env.KRT_NATS_KEY_VALUE_STORE_PROJECT,
      }),
      objectStore: new NodeObjectStore(this.js, env.KRT_NATS_OBJECT_STORE),
      db: new DataClient(this.nc, env.KRT_NATS_DATA_PREFIX),
    };
    this.publisher = new JetStreamPublisher(this.nc);
    this.scopeDeps = {
      nc: this.nc,
      publisher: this.publisher,
      codec: this.codec,
      nodeId: env.KRT_NODE_ID,
      output: env.KRT_NATS_OUTPUT,
      isExitpoint: env.KRT_IS_EXITPOINT,
      payloadLimit: payloadLimit(this.nc.info?.max_payload ?? 1024 * 1024),
      hasInterest: (subject) => !this.interest || this.interest.has(subject),
    };
    if (this.mod.init) {
      const init = this.mod.init;
      try {
        await runAsUserCode({}, () => init(createContext(this.deps)));
      } catch (error) {
        const text = `init() of node "${env.KRT_NODE_ID}" failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
        this.obs.log('ERROR', text, { source: 'RUNNER' });
        throw new Error(text, { cause: error });
      }
    }
    for (const input of this.inputs) void this.bind(input);
  }

  private loadProtos(base: string, rel: string) {
    const file = resolveInsideKrt(base, rel, 'KRT_ENTRYPOINT_PROTO');
    return loadProtoRoot(file, [dirname(file), base]);
  }

  /** Binds to a consumer, retrying until the deployer has created it; rebinds if it goes away. */
  private async bind(input: Input): Promise<void> {
    let warned = false;
    while (!this.stopping) {
      let consumer: Consumer;
      try {
        consumer = await this.js.consumers.get(this.env.KRT_NATS_STREAM, input.consumer);
        const info = await consumer.info(true);
        input.ackWaitMs = Math.max(100, (info.config.ack_wait ?? 5_000_000_000) / 1_000_000);
      } catch (error) {
        if (!warned)
          this.logger.warn(
            `waiting for consumer ${input.consumer} on stream ${this.env.KRT_NATS_STREAM} (the deployer creates it): ${errorText(error)}`,
          );
        warned = true;
        await delay(500);
        continue;
      }
      this.logger.log(`bound to consumer ${input.consumer} (${input.subject})`);
      if (this.env.KRT_IS_EXITPOINT) await this.readInterest();
      try {
        await this.consume(input, consumer);
      } catch (error) {
        this.logger.warn(`consumer ${input.consumer} stopped: ${errorText(error)}`);
      }
      if (!this.stopping) await delay(500);
    }
  }

  /**
   * Which subjects of the stream some consumer reads (exitpoints only, re-read every 30 s: the
   * deployer creates the consumers before starting the runners).
   */
  private async readInterest(): Promise<void> {
    try {
      const jsm = await jetstreamManager(this.nc);
      const subjects = new Set<string>();
      let everything = false;
      for await (const info of jsm.consumers.list(this.env.KRT_NATS_STREAM)) {
        const { filter_subject: one, filter_subjects: many } = info.config;
        if (!one && !many?.length) everything = true;
        for (const subject of [...(one ? [one] : []), ...(many ?? [])]) {
          if (subject.includes('*') || subject.includes('>')) everything = true;
          subjects.add(subject);
        }
      }
      // A consumer of everything or of wildcards: keep publishing all.
      this.interest = everything ? undefined : subjects;
    } catch (error) {
      this.interest = undefined;
      this.logger.warn(
        `cannot list the consumers of ${this.env.KRT_NATS_STREAM}: ${errorText(error)}`,
      );
    }
    if (!this.interestTimer && !this.stopping) {
      this.interestTimer = setInterval(() => void this.readInterest(), 30_000);
      this.interestTimer.unref();
    }
  }

  private async consume(input: Input, consumer: Consumer): Promise<void> {
    const messages = await consumer.consume({
      max_messages: this.env.KRT_MAX_IN_FLIGHT,
      expires: 30_000,
    });
    this.iterators.add(messages);
    input.bound = true;
    try {
      for await (const m of messages) {
        if (this.stopping) {
          m.nak();
          continue;
        }
        await this.slots.acquire();
        if (this.stopping) {
          this.slots.release();
          m.nak();
          continue;
        }
        const task = this.handle(input, m)
          .catch((error: unknown) =>
            this.logger.error(`message ${m.seq} of ${input.consumer}: ${errorText(error)}`),
          )
          .finally(() => this.slots.release());
        this.inFlight.add(task);
        void task.finally(() => this.inFlight.delete(task));
      }
    } finally {
      input.bound = false;
      this.iterators.delete(messages);
    }
  }

  private outgoingHeaders(incoming: MsgHdrs | undefined, requestId: string): MsgHdrs {
    const out = headers();
    for (const key of PROPAGATED_HEADERS) {
      const value = incoming?.get(key);
      if (value) out.set(key, value);
    }
    if (!out.get(KreHeader.requestId)) out.set(KreHeader.requestId, requestId);
    return out;
  }

  /** One message, from decoding to ack. Never throws for the message's own faults. */
  private async handle(input: Input, m: JsMsg): Promise<void> {
    const started = performance.now();
    const nodeId = this.env.KRT_NODE_ID;
    const incoming = m.headers;
    const replyToHeader = incoming?.get(KreHeader.replyTo) || undefined;
    const replyTo = replyToHeader && REPLY_SUBJECT.test(replyToHeader) ? replyToHeader : undefined;
    const headerRequestId = incoming?.get(KreHeader.requestId) || undefined;

    let envelope: KreMessage;
    try {
      envelope = decodeEnvelope(decompressIfNeeded(m.data));
    } catch (error) {
      const reason = `node "${nodeId}" received an invalid message on ${m.subject}: ${errorText(error)}`;
      this.logger.warn(reason);
      this.obs.log('ERROR', reason, { source: 'RUNNER', requestId: headerRequestId });
      if (headerRequestId) this.newScope(headerRequestId, replyTo, incoming, input, m).fail(reason);
      m.term(reason.slice(0, 200));
      return;
    }
    const { requestId, fromNode } = envelope;
    const deadline = Number(incoming?.get(KreHeader.deadline) || 0);
    if (deadline > 0 && Date.now() > deadline) {
      this.obs.log(
        'DEBUG',
        `request ${requestId} expired before node "${nodeId}" took it: skipped`,
        {
          source: 'RUNNER',
          requestId,
        },
      );
      m.ack();
      return;
    }

    const scope = this.newScope(requestId, replyTo, incoming, input, m);
    const abort = new AbortController();
    const working = setInterval(() => m.working(), Math.max(50, input.ackWaitMs / 3));
    let failed = false;
    try {
      const fn = this.mod.handlers[fromNode] ?? this.mod.handler;
      if (!fn)
        throw new Error(
          `no handler for messages from "${fromNode}": export \`handler\`, or \`handlers["${fromNode}"]\``,
        );
      const data = this.codec.unpack(envelope.payload);
      const ctx = createContext(this.deps, {
        requestId,
        fromNode,
        messageType: envelope.messageType,
        signal: abort.signal,
        sink: scope,
      });
      const result = await this.withTimeout(
        new Promise((done) => done(runAsUserCode({ requestId }, () => fn(ctx, data)))),
        abort,
      );
      if (result !== undefined && !scope.hasExited) scope.output(result, {});
      scope.close();
      await scope.flush();
      m.ack();
    } catch (error) {
      scope.close();
      if (error instanceof TransientPublishError) {
        this.logger.warn(`${error.message}; message ${m.seq} will be redelivered`);
        m.nak(1_000);
        failed = true;
        return;
      }
      failed = true;
      const text =
        error instanceof HandlerTimeoutError
          ? `node "${nodeId}" failed on a message from "${fromNode}": ${error.message}`
          : `node "${nodeId}" failed on a message from "${fromNode}": ${errorText(error)}`;
      this.obs.log(
        'ERROR',
        error instanceof Error && error.stack ? `${text}\n${error.stack}` : text,
        {
          source: 'RUNNER',
          requestId,
        },
      );
      scope.fail(text);
      m.ack();
    } finally {
      clearInterval(working);
      scope.close();
      this.obs.metric(fromNode, performance.now() - started, failed);
    }
  }

  private newScope(
    requestId: string,
    replyTo: string | undefined,
    incoming: MsgHdrs | undefined,
    input: Input,
    m: JsMsg,
  ): MessageScope {
    return new MessageScope(
      this.scopeDeps,
      requestId,
      replyTo,
      this.outgoingHeaders(incoming, requestId),
      `${this.env.KRT_NATS_STREAM}:${input.consumer}:${m.seq}`,
      (message) => this.obs.log('WARN', message, { source: 'RUNNER', requestId }),
    );
  }

  private withTimeout<T>(work: Promise<T>, abort: AbortController): Promise<T> {
    const seconds = this.env.KRT_HANDLER_TIMEOUT;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const error = new HandlerTimeoutError(seconds);
        abort.abort(error);
        reject(error);
      }, seconds * 1000);
      work.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  /** SIGTERM: stop taking messages (buffered ones go back), finish those in flight, flush records. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.interestTimer);
    for (const messages of this.iterators) messages.stop();
    const pending = [...this.inFlight];
    if (pending.length) this.logger.log(`finishing ${pending.length} message(s) in flight`);
    await Promise.race([
      Promise.allSettled(pending),
      delay(this.env.KRT_HANDLER_TIMEOUT * 1000 + 2_000),
    ]);
    this.obs?.close();
    this.publisher?.close();
    detachCaptureSink();
  }
}
