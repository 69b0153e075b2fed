import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import {
  type JetStreamPublisher,
  MessageType,
  type PayloadCodec,
  compressToFit,
  encodeEnvelope,
} from '@libs/messaging/workload';
import type { MessageSink, SendOptions } from './handler.model.js';

/** Publishing an output failed for a reason a retry may fix (NATS unavailable, no PubAck). */
export class TransientPublishError extends Error {
  constructor(subject: string, cause: unknown) {
    super(
      `cannot publish to ${subject}: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
    this.name = 'TransientPublishError';
  }
}

/** What every message of one runner shares. */
export interface ScopeDeps {
  nc: NatsConnection;
  publisher: JetStreamPublisher;
  codec: PayloadCodec;
  nodeId: string;
  output: string;
  isExitpoint: boolean;
  /** Largest payload on the wire (the server's max payload minus header room). */
  payloadLimit: number;
  /**
   * Whether some consumer reads `subject`. Under interest retention a message nobody reads is
   * dropped on arrival, so the exitpoint's output (already sent to `kre-reply-to`) is not
   * published when no node reads it.
   */
  hasInterest(subject: string): boolean;
  /**
   * The version's config values masked (ConfigMasker): an error's text reaches the caller and the
   * entrypoint's logs, which VIEWERs read, so it leaves the workload masked like its records.
   */
  mask(text: string): string;
}

const CHANNEL = /^[A-Za-z0-9_-]+$/;
const MAX_ERROR_TEXT = 8 * 1024;

/**
 * The sends of one message (ARCHITECTURE.md, "How messages travel"): OK outputs are held until
 * the handler returns, then published (so a handler that throws sends nothing downstream);
 * EARLY_REPLY and EARLY_EXIT go to `kre-reply-to` at once; after EARLY_EXIT nothing further
 * flows from this node; ERROR goes to `kre-reply-to` only.
 */
export class MessageScope implements MessageSink {
  private outputs: { subject: string; data: Uint8Array; reply: boolean }[] = [];
  private exited = false;
  private closed = false;

  constructor(
    private readonly deps: ScopeDeps,
    private readonly requestId: string,
    private readonly replyTo: string | undefined,
    private readonly headers: MsgHdrs,
    /** Stable per input message, so a redelivered message's outputs are deduplicated. */
    private readonly msgIdBase: string,
    private readonly warn: (message: string) => void,
  ) {}

  private encode(type: MessageType, value: unknown, typeName?: string, error?: string): Uint8Array {
    const bytes = encodeEnvelope({
      requestId: this.requestId,
      fromNode: this.deps.nodeId,
      messageType: type,
      ...(type === MessageType.ERROR
        ? { error }
        : { payload: this.deps.codec.pack(value, typeName) }),
    });
    return compressToFit(
      bytes,
      this.deps.payloadLimit,
      `the ${MessageType[type]} message of node "${this.deps.nodeId}"`,
    );
  }

  private usable(what: string): boolean {
    if (this.closed)
      throw new Error(
        `${what} after the handler finished (or timed out) is not sent: await your sends`,
      );
    if (this.exited) {
      this.warn(
        `${what} after sendEarlyExit is ignored: nothing further flows for request ${this.requestId}`,
      );
      return false;
    }
    return true;
  }

  output(value: unknown, options: SendOptions): void {
    if (!this.usable('sendOutput')) return;
    const { channel } = options;
    if (channel !== undefined && (typeof channel !== 'string' || !CHANNEL.test(channel)))
      throw new TypeError(`channel ${JSON.stringify(channel)} must be letters, digits, "_" or "-"`);
    this.outputs.push({
      subject: channel ? `${this.deps.output}.${channel}` : this.deps.output,
      data: this.encode(MessageType.OK, value, options.type),
      reply: this.deps.isExitpoint && !channel,
    });
  }

  earlyReply(value: unknown, type?: string): void {
    if (!this.usable('sendEarlyReply')) return;
    this.reply(this.encode(MessageType.EARLY_REPLY, value, type));
  }

  earlyExit(value: unknown, type?: string): void {
    if (!this.usable('sendEarlyExit')) return;
    const data = this.encode(MessageType.EARLY_EXIT, value, type);
    this.exited = true;
    this.outputs = [];
    this.reply(data);
  }

  /** Whether sendEarlyExit was called (the return value is then not sent). */
  get hasExited(): boolean {
    return this.exited;
  }

  private reply(data: Uint8Array): void {
    if (!this.replyTo) {
      this.warn(
        `request ${this.requestId} has no kre-reply-to header: the answer has nowhere to go`,
      );
      return;
    }
    this.deps.nc.publish(this.replyTo, data, { headers: this.headers });
  }

  /**
   * Publishes the held outputs (the exitpoint's main output also answers the client).
   * @throws TransientPublishError when JetStream does not take one: the input should be retried.
   */
  async flush(): Promise<void> {
    if (this.exited) return;
    const outputs = this.outputs;
    this.outputs = [];
    for (const out of outputs) if (out.reply) this.reply(out.data);
    for (const [i, out] of outputs.entries()) {
      // The exitpoint's answer went to kre-reply-to; on JetStream it only matters if a node reads it.
      if (out.reply && !this.deps.hasInterest(out.subject)) continue;
      try {
        await this.deps.publisher.publish(out.subject, out.data, {
          headers: this.headers,
          msgID: `${this.msgIdBase}:${i}`,
        });
      } catch (error) {
        throw new TransientPublishError(out.subject, error);
      }
    }
  }

  /** Answers the client with an ERROR; nothing is published downstream. */
  fail(text: string): void {
    this.outputs = [];
    // Masked whole, then cut: a value across the cut is masked too.
    const masked = this.deps.mask(text);
    const error =
      masked.length > MAX_ERROR_TEXT ? `${masked.slice(0, MAX_ERROR_TEXT)}… (truncated)` : masked;
    this.reply(this.encode(MessageType.ERROR, undefined, undefined, error));
  }

  close(): void {
    this.closed = true;
  }
}
