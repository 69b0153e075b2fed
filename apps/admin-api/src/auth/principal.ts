import type { PlatformRole, RuntimeRole } from '@libs/core';
import type { ExecutionContext } from '@nestjs/common';
import { GqlExecutionContext, type GqlContextType } from '@nestjs/graphql';
import type { Request, Response } from 'express';

/** Who is calling, as the verified session or API token says (never the arguments). */
export interface Principal {
  id: string;
  email: string;
  platformRole: PlatformRole;
  via: 'session' | 'token';
  /** SHA-256 of the session id or token: which credential (revocation closes its sockets). */
  credentialHash: string;
  /** Sessions: when the person signed in (proved the address) that started this session. */
  signedInAt?: Date;
}

/** An authenticated GraphQL WebSocket (set in `connection_init`). */
export interface WsConnectionState {
  principal: Principal;
}

/** The GraphQL context: `req`/`res` over HTTP, `ws` over graphql-ws. */
/** A request once the authentication guard has looked at it (null: anonymous). */
export type AuthenticatedRequest = Request & {
  principal?: Principal | null;
  /** The caller's effective role per runtime, as the RuntimeRoleGuard decided it. */
  runtimeRoles?: Map<string, RuntimeRole>;
};

export interface GqlContext {
  req?: AuthenticatedRequest;
  res?: Response;
  ws?: WsConnectionState;
  principal?: Principal | null;
  /** The caller's effective role per runtime, as the RuntimeRoleGuard decided it (this call). */
  runtimeRoles?: Map<string, RuntimeRole>;
}

/** The principal the authentication guard resolved for this call (null when anonymous). */
export function principalOf(context: ExecutionContext): Principal | null {
  if (context.getType<GqlContextType>() === 'graphql') {
    const ctx = GqlExecutionContext.create(context).getContext<GqlContext>();
    return ctx.principal ?? ctx.req?.principal ?? null;
  }
  return context.switchToHttp().getRequest<AuthenticatedRequest>().principal ?? null;
}
