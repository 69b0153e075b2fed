import { performance } from 'node:perf_hooks';
import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { type MsgHdrs, headers } from '@nats-io/transport-node';
import {
  KreHeader,
  type KreMessage,
  PROPAGATED_HEADERS,
  type PayloadCodec,
  decodeEnvelope,
  decompressIfNeeded,
} from '@libs/messaging/workload';
import { NOOP_SPAN, type TracedSpan, WorkloadLogger, tracing } from '@libs/observability/workload';
import { type ContextDeps, createContext } from './handler-context.factory.js';
import type { HandlerContext, HandlerModule } from './handler.model.js';
import {
  type BatchSettings,
  type ItemOutcome,
  MessageBatcher,
  batchOutcomes,
} from './message.batcher.js';
import { MessageScope, type ScopeDeps, TransientPublishError } from './message.scope.js';
import type { ObsPublisher } from './obs.publisher.js';
import type { RunnerEnv } from './runner.env.js';
import type { Semaphore } from './in-flight.semaphore.js';
import { type CaptureChannel, runAsUserCode } from './stdio.capture.js';
import type { StreamInterestTracker } from './stream-interest.tracker.js';

/** What one node replica works with; `composeRunner` (runner.composition.ts) wires it. */
export interface NodeRunnerDeps {
  env: RunnerEnv;
  js: JetStreamClient;
  handlerModule: HandlerModule;
  /** Where what the node's code prints goes (the channel its module was loaded with). */
  capture: CaptureChannel;
  codec: PayloadCodec;
  obs: ObsPublisher;
  /** Shared by every handler context (and `init`'s). */
  context: ContextDeps;
  /** Shared by every message's scope (its sends). */
  scope: ScopeDeps;
  interest: StreamInterestTracker;
  /** Bounds the messages held at once (KRT_MAX_IN_FLIGHT; with batching `inFlightBound`). */
  slots: Semaphore;
  /** The node's adaptive batching (`batchSettingsOf`), when its messages go to `handlerBatch`. */
  batch?: BatchSettings;
}

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

/** A decoded message on its way to its handler: its scope, span and in-progress acks are open. */
interface Prepared {
  m: JsMsg;
  started: number;
  envelope: KreMessage;
  requestId: string;
  fromNode: string;
  span: TracedSpan;
  scope: MessageScope;
  working: ReturnType<typeof setInterval>;
}

/** A message waiting in a batch; `settle` frees its slot once its outcome is sent. */
interface Batched {
  p: Prepared;
  data: unknown;
  settle: () => void;
}

const REPLY_SUBJECT = /^[^\s*>]+$/;
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));
const asError = (error: unknown) => (error instanceof Error ? error : new Error(String(error)));
const delay = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * Runs one node (one replica): binds the durable consumers the deployer created, calls the
 * team's handler for each message with a bounded number in flight, extends AckWait with
 * in-progress acks while a handler runs, routes what it sends as ARCHITECTURE.md's table says,
 * and acks after. On stop (SIGTERM) it stops taking work and finishes what it holds.
 */
export class NodeRunner {
  /** Named for its node: a version's shared process runs several. */
  private readonly logger: WorkloadLogger;
  private readonly env: RunnerEnv;
  private readonly js: JetStreamClient;
  private readonly mod: HandlerModule;
  private readonly capture: CaptureChannel;
  private readonly codec: PayloadCodec;
  private readonly obs: ObsPublisher;
  private readonly context: ContextDeps;
  private readonly scopeDeps: ScopeDeps;
  private readonly interest: StreamInterestTracker;
  private readonly slots: Semaphore;
  private readonly inputs: Input[];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly iterators = new Set<ConsumerMessages>();
  private readonly batcher?: MessageBatcher<Batched>;
  private stopping = false;

  constructor(deps: NodeRunnerDeps) {
    this.env = deps.env;
    this.logger = new WorkloadLogger(`Runner ${deps.env.KRT_NODE_ID}`);
    this.js = deps.js;
    this.mod = deps.handlerModule;
    this.capture = deps.capture;
    this.codec = deps.codec;
    this.obs = deps.obs;
    this.context = deps.context;
    this.scopeDeps = deps.scope;
    this.interest = deps.interest;
    this.slots = deps.slots;
    if (deps.batch)
      this.batcher = new MessageBatcher<Batched>(deps.batch, (items) => {
        this.runBatch(items).catch((error: unknown) =>
          this.logger.error(`a batch of ${items.length}: ${errorText(error)}`),
        );
      });
    this.inputs = deps.env.KRT_NATS_INPUTS.map((i) => ({ ...i, bound: false, ackWaitMs: 5_000 }));
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

  /**
   * Sends what user code prints to the log records, runs `init(ctx)`, then binds the consumers in
   * the background.
   * @throws Error when `init` fails (the replica cannot serve).
   */
  async start(): Promise<void> {
    const obs = this.obs;
    this.capture.attach((line, stream, requestId) =>
      obs.log(stream === 'STDERR' ? 'ERROR' : 'INFO', line, { source: stream, requestId }),
    );
    if (this.mod.init) {
      const init = this.mod.init;
      try {
        await runAsUserCode({ capture: this.capture }, () => init(createContext(this.context)));
      } catch (error) {
        const text = `init() of node "${this.env.KRT_NODE_ID}" failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
        obs.log('ERROR', text, { source: 'RUNNER' });
        throw new Error(text, { cause: error });
      }
    }
    for (const input of this.inputs) void this.bind(input);
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
      if (this.env.KRT_IS_EXITPOINT) await this.interest.refresh();
      try {
        await this.consume(input, consumer);
      } catch (error) {
        this.logger.warn(`consumer ${input.consumer} stopped: ${errorText(error)}`);
      }
      if (!this.stopping) await delay(500);
    }
  }

  private async consume(input: Input, consumer: Consumer): Promise<void> {
    const messages = await consumer.consume({
      max_messages: this.slots.size,
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

  private outgoingHeaders(
    incoming: MsgHdrs | undefined,
    requestId: string,
    span: TracedSpan,
  ): MsgHdrs {
    const out = headers();
    for (const key of PROPAGATED_HEADERS) {
      const value = incoming?.get(key);
      if (value) out.set(key, value);
    }
    if (!out.get(KreHeader.requestId)) out.set(KreHeader.requestId, requestId);
    // Traced: the next node's span (and the reply) is a child of this node's.
    if (span.headers?.traceparent) out.set(KreHeader.traceparent, span.headers.traceparent);
    if (span.headers?.tracestate) out.set(KreHeader.tracestate, span.headers.tracestate);
    return out;
  }

  /** This message's span, a child of the sender's (the entrypoint's or the previous node's). */
  private span(incoming: MsgHdrs | undefined, fromNode: string, requestId: string): TracedSpan {
    const t = tracing('runner');
    if (!t.enabled) return NOOP_SPAN;
    return t.start(`node ${this.env.KRT_NODE_ID}`, {
      kind: 'consumer',
      from: {
        traceparent: incoming?.get(KreHeader.traceparent) || undefined,
        tracestate: incoming?.get(KreHeader.tracestate) || undefined,
      },
      attributes: {
        'kre.node': this.env.KRT_NODE_ID,
        'kre.workflow': this.env.KRT_WORKFLOW_NAME,
        'kre.from_node': fromNode,
        'kre.request_id': requestId,
      },
    });
  }

  /** One message, from decoding to ack. Never throws for the message's own faults. */
  private async handle(input: Input, m: JsMsg): Promise<void> {
    const p = this.prepare(input, m);
    if (!p) return;
    const fn = this.mod.handlers[p.fromNode];
    // Batched node: what the per-sender handlers do not take waits for its batch (settled, and
    // its slot freed, when its own outcome is sent).
    if (this.batcher && !fn) return this.enqueue(p);
    const abort = new AbortController();
    let outcome: ItemOutcome;
    try {
      const handler = fn ?? this.mod.handler;
      if (!handler)
        throw new Error(
          `no handler for messages from "${p.fromNode}": export \`handler\`, or \`handlers["${p.fromNode}"]\``,
        );
      const data = this.codec.unpack(p.envelope.payload);
      const ctx = this.messageContext(p, abort.signal);
      const value = await this.withTimeout(
        new Promise((done) =>
          done(
            runAsUserCode({ capture: this.capture, requestId: p.requestId }, () =>
              handler(ctx, data),
            ),
          ),
        ),
        abort,
      );
      outcome = { ok: true, value };
    } catch (error) {
      outcome = { ok: false, error: asError(error) };
    }
    await this.finish(p, outcome);
  }

  /**
   * Decodes a message and opens its scope and span; answers (and settles) at once one that is
   * invalid or whose request expired (undefined then).
   */
  private prepare(input: Input, m: JsMsg): Prepared | undefined {
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
      if (headerRequestId)
        this.newScope(headerRequestId, replyTo, incoming, input, m, NOOP_SPAN).fail(reason);
      m.term(reason.slice(0, 200));
      return undefined;
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
      return undefined;
    }
    const span = this.span(incoming, fromNode, requestId);
    return {
      m,
      started,
      envelope,
      requestId,
      fromNode,
      span,
      scope: this.newScope(requestId, replyTo, incoming, input, m, span),
      working: setInterval(() => m.working(), Math.max(50, input.ackWaitMs / 3)),
    };
  }

  private messageContext(p: Prepared, signal: AbortSignal): HandlerContext {
    return createContext(this.context, {
      requestId: p.requestId,
      fromNode: p.fromNode,
      messageType: p.envelope.messageType,
      signal,
      sink: p.scope,
    });
  }

  /** Into the batch being formed; handed out early when the replica may hold no more messages. */
  private enqueue(p: Prepared): Promise<void> {
    const batcher = this.batcher!;
    let data: unknown;
    try {
      data = this.codec.unpack(p.envelope.payload);
    } catch (error) {
      return this.finish(p, { ok: false, error: asError(error) });
    }
    return new Promise<void>((settle) => {
      batcher.add({ p, data, settle });
      if (this.slots.inUse >= this.slots.size) batcher.flush();
    });
  }

  /**
   * One call of `handlerBatch` for a batch: each item gets its own context (its request, its
   * sends) and its own outcome; a throw or timeout of the call fails every item of it, each with
   * its own ERROR.
   */
  private async runBatch(items: Batched[]): Promise<void> {
    const fn = this.mod.handlerBatch!;
    const abort = new AbortController();
    let outcomes: ItemOutcome[];
    try {
      const ctx: HandlerContext = { ...createContext(this.context), signal: abort.signal };
      const list = items.map((item) =>
        Object.freeze({ ctx: this.messageContext(item.p, abort.signal), data: item.data }),
      );
      const result = await this.withTimeout(
        new Promise((done) => done(runAsUserCode({ capture: this.capture }, () => fn(ctx, list)))),
        abort,
      );
      outcomes = batchOutcomes(result, items.length);
    } catch (error) {
      const failure = asError(error);
      outcomes = items.map(() => ({ ok: false, error: failure }));
    }
    await Promise.all(
      items.map((item, i) => this.finish(item.p, outcomes[i]).finally(item.settle)),
    );
  }

  /** Sends a message's outcome (its output, or its ERROR), then acks (naks when publishing failed). */
  private async finish(p: Prepared, outcome: ItemOutcome): Promise<void> {
    const { m, scope, span, fromNode, requestId } = p;
    const nodeId = this.env.KRT_NODE_ID;
    let failed = false;
    try {
      if (!outcome.ok) throw outcome.error;
      if (outcome.value !== undefined && !scope.hasExited) scope.output(outcome.value, {});
      scope.close();
      await scope.flush();
      m.ack();
    } catch (error) {
      scope.close();
      span.fail(error);
      failed = true;
      if (error instanceof TransientPublishError) {
        this.logger.warn(`${error.message}; message ${m.seq} will be redelivered`);
        m.nak(1_000);
        return;
      }
      const text = `node "${nodeId}" failed on a message from "${fromNode}": ${errorText(error)}`;
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
      clearInterval(p.working);
      scope.close();
      span.end();
      this.obs.metric(fromNode, performance.now() - p.started, failed);
    }
  }

  private newScope(
    requestId: string,
    replyTo: string | undefined,
    incoming: MsgHdrs | undefined,
    input: Input,
    m: JsMsg,
    span: TracedSpan,
  ): MessageScope {
    return new MessageScope(
      this.scopeDeps,
      requestId,
      replyTo,
      this.outgoingHeaders(incoming, requestId, span),
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
  async stop(): Promise<void> {
    this.stopping = true;
    this.interest.stop();
    for (const messages of this.iterators) messages.stop();
    // A batch being formed gets no further message: hand it out now rather than at its timer.
    this.batcher?.flush();
    const pending = [...this.inFlight];
    if (pending.length) this.logger.log(`finishing ${pending.length} message(s) in flight`);
    await Promise.race([
      Promise.allSettled(pending),
      delay(this.env.KRT_HANDLER_TIMEOUT * 1000 + 2_000),
    ]);
    this.obs.close();
    this.scopeDeps.publisher.close();
    this.capture.detach();
    // Spans still buffered: the workload host exports them after this, before NATS drains.
  }
}
