import {
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
  createInbox,
  headers as natsHeaders,
} from '@nats-io/transport-node';

/** What JetStream answers to a publish. */
export interface PubAck {
  stream: string;
  seq: number;
  duplicate?: boolean;
}

/** A publish JetStream did not confirm; the message says why. */
export class PublishError extends Error {
  constructor(
    readonly subject: string,
    reason: string,
  ) {
    super(`JetStream did not take the message on ${subject}: ${reason}`);
    this.name = 'PublishError';
  }
}

interface Waiting {
  subject: string;
  resolve(ack: PubAck): void;
  reject(error: PublishError): void;
  expires: number;
}

/**
 * JetStream publish with PubAck, on the hot path of every hop. nats.js' `js.publish` goes
 * through its request machinery, which builds three Error objects (stack traces) per call;
 * profiled, that was the largest CPU cost of a runner. This keeps one reply subscription,
 * matches PubAcks by token, and times out waiting publishes with one sweeping timer.
 */
/** The `inboxPrefix` the connection was opened with (nats.js keeps its options on it). */
function inboxPrefixOf(nc: NatsConnection): string | undefined {
  return (nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix;
}

export class JetStreamPublisher {
  private readonly inbox: string;
  private readonly waiting = new Map<string, Waiting>();
  private readonly subscription: Subscription;
  private readonly sweeper: NodeJS.Timeout;
  private seq = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 5_000,
  ) {
    // Under the connection's inbox prefix: a workload's identity may receive nowhere else.
    this.inbox = `${createInbox(inboxPrefixOf(nc))}.`;
    this.subscription = nc.subscribe(`${this.inbox}*`, {
      callback: (error, msg) => {
        if (!error) this.onAck(msg);
      },
    });
    this.sweeper = setInterval(() => this.sweep(), Math.min(250, timeoutMs));
    this.sweeper.unref();
  }

  /**
   * Publishes and resolves with the PubAck.
   * @throws PublishError when no stream takes the subject, JetStream refuses the message, or no
   * PubAck arrives within the timeout.
   */
  publish(
    subject: string,
    data: Uint8Array,
    options: { headers?: MsgHdrs; msgID?: string; timeoutMs?: number } = {},
  ): Promise<PubAck> {
    const token = (++this.seq).toString(36);
    let h = options.headers;
    if (options.msgID) {
      h ??= natsHeaders();
      h.set('Nats-Msg-Id', options.msgID);
    }
    const ack = new Promise<PubAck>((resolve, reject) =>
      this.waiting.set(token, {
        subject,
        resolve,
        reject,
        expires: Date.now() + (options.timeoutMs ?? this.timeoutMs),
      }),
    );
    try {
      this.nc.publish(subject, data, {
        reply: `${this.inbox}${token}`,
        ...(h ? { headers: h } : {}),
      });
    } catch (error) {
      this.settle(token)?.reject(
        new PublishError(subject, error instanceof Error ? error.message : String(error)),
      );
    }
    return ack;
  }

  private settle(token: string): Waiting | undefined {
    const waiting = this.waiting.get(token);
    if (waiting) this.waiting.delete(token);
    return waiting;
  }

  private onAck(msg: Msg): void {
    const waiting = this.settle(msg.subject.slice(this.inbox.length));
    if (!waiting) return;
    const status = msg.headers?.code ?? 0;
    if (status >= 300 || msg.data.length === 0) {
      waiting.reject(
        new PublishError(
          waiting.subject,
          status === 503 ? 'no stream takes this subject (no responders)' : `status ${status}`,
        ),
      );
      return;
    }
    let ack: PubAck & { error?: { description?: string } };
    try {
      ack = msg.json();
    } catch {
      waiting.reject(new PublishError(waiting.subject, 'the PubAck is not JSON'));
      return;
    }
    if (ack.error)
      waiting.reject(new PublishError(waiting.subject, ack.error.description ?? 'error'));
    else waiting.resolve(ack);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [token, waiting] of this.waiting)
      if (waiting.expires <= now) {
        this.waiting.delete(token);
        waiting.reject(new PublishError(waiting.subject, 'no PubAck in time'));
      }
  }

  /** Stops listening; waiting publishes fail. */
  close(): void {
    clearInterval(this.sweeper);
    this.subscription.unsubscribe();
    for (const [token, waiting] of this.waiting) {
      this.waiting.delete(token);
      waiting.reject(new PublishError(waiting.subject, 'the publisher is closed'));
    }
  }
}
