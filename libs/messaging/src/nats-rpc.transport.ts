import { ClientNats, ServerNats, type Deserializer } from '@nestjs/microservices';
import type {
  Msg,
  NatsConnection,
  Payload,
  PublishOptions,
  Subscription,
  SubscriptionOptions,
} from '@nats-io/transport-node';
import { UnreadableRpcMessage, type RpcErrorPayload } from './rpc-contract.js';

/**
 * What Nest's NATS server and client use of a connection, on the app's own (NatsModule's).
 * Closing it ends only the subscriptions the transport made: the connection belongs to the app,
 * which drains it last, on shutdown.
 */
function borrowed(nc: NatsConnection) {
  const subscriptions = new Set<Subscription>();
  return {
    subscribe(subject: string, options?: SubscriptionOptions): Subscription {
      const subscription = nc.subscribe(subject, options);
      subscriptions.add(subscription);
      const forget = () => subscriptions.delete(subscription);
      void subscription.closed.then(forget, forget);
      return subscription;
    },
    publish(subject: string, payload?: Payload, options?: PublishOptions): void {
      nc.publish(subject, payload, options);
    },
    status: () => nc.status(),
    isClosed: () => nc.isClosed(),
    close(): Promise<void> {
      if (!nc.isClosed()) for (const subscription of subscriptions) subscription.unsubscribe();
      subscriptions.clear();
      return Promise.resolve();
    },
  };
}

/**
 * Requests as Nest's NATS server reads them, except that nothing malformed goes unanswered:
 * bytes that are not JSON reach the handler's contract as an UnreadableRpcMessage (and are
 * refused with BAD_REQUEST), and a plain JSON request from a non-Nest client (`nats req`)
 * is served like a Nest one. Without a reply subject there is no one to answer.
 */
class RpcRequestDeserializer implements Deserializer<Msg> {
  deserialize(msg: Msg, options?: { channel?: string }): unknown {
    let value: unknown;
    try {
      value = msg.json<unknown>();
    } catch {
      value = new UnreadableRpcMessage('not JSON');
    }
    // Nest's own packets (`{pattern, data, id}`; events have no id) pass as they are.
    if (typeof value === 'object' && value !== null && 'pattern' in value) return value;
    return { pattern: options?.channel, data: value, id: msg.reply ? 'external' : undefined };
  }
}

/**
 * Replies as Nest's NATS client reads them, except that one that is not JSON fails the request
 * with `{code: 'INVALID_REPLY'}` instead of throwing where nothing catches it.
 */
class RpcReplyDeserializer implements Deserializer<Msg> {
  deserialize(msg: Msg): unknown {
    let value: unknown;
    try {
      value = msg.json<unknown>();
    } catch {
      const err: RpcErrorPayload = { code: 'INVALID_REPLY', message: 'the reply is not JSON' };
      return { err, isDisposed: true };
    }
    if (isNestReply(value)) return value;
    // A foreign reply: the caller's contract judges it.
    return { response: value, isDisposed: true };
  }
}

const REPLY_KEYS = new Set(['id', 'err', 'response', 'isDisposed', 'status']);
function isNestReply(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((key) => REPLY_KEYS.has(key));
}

/**
 * The Nest NATS transport's server on the app's connection: `app.connectMicroservice({ strategy:
 * new NatsRpcServer(app.get(NATS_CONNECTION)) })`. `@MessagePattern` handlers as usual.
 */
export class NatsRpcServer extends ServerNats {
  constructor(private readonly nc: NatsConnection) {
    super({ deserializer: new RpcRequestDeserializer() });
  }

  override createNatsClient(): Promise<ReturnType<typeof borrowed>> {
    return Promise.resolve(borrowed(this.nc));
  }
}

/** The Nest NATS transport's client (a `ClientProxy`) on the app's connection. */
export class NatsRpcClient extends ClientNats {
  constructor(private readonly nc: NatsConnection) {
    super({ deserializer: new RpcReplyDeserializer() });
  }

  override createClient(): Promise<ReturnType<typeof borrowed>> {
    return Promise.resolve(borrowed(this.nc));
  }
}
