import { Injectable, Logger, type PipeTransform } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import type { z } from 'zod';

/**
 * What reached a request/reply handler but could not be read as JSON (the NATS RPC transport's
 * deserializer puts it where the request would be), so the contract refuses it like any other
 * malformed request.
 */
export class UnreadableRpcMessage {
  constructor(readonly reason: string) {}
}

/** A request or reply that does not have the agreed shape; the message lists every problem. */
export class InvalidRpcMessageError extends Error {
  constructor(what: string, issues: readonly { path: readonly PropertyKey[]; message: string }[]) {
    super(
      `invalid ${what}: ${issues
        .map((issue) => `${issue.path.map(String).join('.') || '(message)'}: ${issue.message}`)
        .join('; ')}`,
    );
    this.name = 'InvalidRpcMessageError';
  }
}

/**
 * One request/reply pattern between engine apps: its name and the zod schemas of both messages.
 * Both sides check both messages: the sender what it sends, the receiver what it receives.
 */
export class RpcContract<Request, Reply> {
  constructor(
    /** The pattern's name in error messages (`node-status`). */
    readonly name: string,
    private readonly requestSchema: z.ZodType<Request>,
    private readonly replySchema: z.ZodType<Reply>,
  ) {}

  /** @throws InvalidRpcMessageError naming every problem of the request. */
  parseRequest(payload: unknown): Request {
    return parse(this.requestSchema, `${this.name} request`, payload);
  }

  /** @throws InvalidRpcMessageError naming every problem of the reply. */
  parseReply(payload: unknown): Reply {
    return parse(this.replySchema, `${this.name} reply`, payload);
  }
}

function parse<T>(schema: z.ZodType<T>, what: string, payload: unknown): T {
  if (payload instanceof UnreadableRpcMessage)
    throw new InvalidRpcMessageError(what, [{ path: [], message: payload.reason }]);
  const parsed = schema.safeParse(payload);
  if (!parsed.success) throw new InvalidRpcMessageError(what, parsed.error.issues);
  return parsed.data;
}

/** The error payload a handler answers with (`RpcException`), and what the caller gets back. */
export interface RpcErrorPayload {
  code: 'BAD_REQUEST' | 'INVALID_REPLY' | (string & {});
  message: string;
}

/**
 * `@Payload(new RpcRequestPipe(contract))`: a malformed request never reaches the handler; the
 * caller is answered `{code: 'BAD_REQUEST', message}` with every problem named.
 */
@Injectable()
export class RpcRequestPipe<Request> implements PipeTransform<unknown, Request> {
  constructor(private readonly contract: RpcContract<Request, unknown>) {}

  transform(payload: unknown): Request {
    try {
      return this.contract.parseRequest(payload);
    } catch (error) {
      if (!(error instanceof InvalidRpcMessageError)) throw error;
      throw new RpcException({
        code: 'BAD_REQUEST',
        message: error.message,
      } satisfies RpcErrorPayload);
    }
  }
}

const logger = new Logger('RpcContract');

/**
 * The handler's side of a reply: checked before it leaves, so a caller never gets a reply that
 * breaks the contract; it gets `{code: 'INVALID_REPLY', message}` and the handler's log says why.
 */
export function rpcReply<Reply>(contract: RpcContract<unknown, Reply>, reply: unknown): Reply {
  try {
    return contract.parseReply(reply);
  } catch (error) {
    if (!(error instanceof InvalidRpcMessageError)) throw error;
    logger.error(`refused to send it: ${error.message}`);
    throw new RpcException({
      code: 'INVALID_REPLY',
      message: `the ${contract.name} handler produced an invalid reply`,
    } satisfies RpcErrorPayload);
  }
}
