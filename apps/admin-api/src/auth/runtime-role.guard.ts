import {
  BadUserInputError,
  ForbiddenError,
  PlatformRole,
  RuntimeNotFoundError,
  UnauthenticatedError,
  roleIncludes,
} from '@libs/core';
import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GqlExecutionContext, type GqlContextType } from '@nestjs/graphql';
import type { Request } from 'express';
import { MembershipsRepository } from '@libs/persistence';
import { ACCESS_KEY, type Access } from './access.decorators.js';
import { principalOf } from './principal.js';

/** The value at a dotted path (`input.runtimeId`) of the arguments. */
export function valueAt(args: unknown, path: string): unknown {
  let value = args;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/**
 * `@RequireRuntimeRole(role, argPath)`: the runtime comes from the arguments, the role from the
 * verified caller (platform admins are ADMIN everywhere, others what their membership says).
 * Not a member and no such runtime give the same NOT_FOUND.
 */
@Injectable()
export class RuntimeRoleGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly memberships: MembershipsRepository,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const access = this.reflector.getAllAndOverride<Access | undefined>(ACCESS_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (access?.kind !== 'runtimeRole') return true;
    const principal = principalOf(context);
    if (!principal) throw new UnauthenticatedError();
    const runtimeId = valueAt(this.args(context), access.argPath);
    const isPlatformAdmin = principal.platformRole === PlatformRole.ADMIN;
    if (runtimeId === undefined || runtimeId === null) {
      if (isPlatformAdmin) return true;
      throw new ForbiddenError(
        `only platform admins may do this across all runtimes: pass ${access.argPath}`,
      );
    }
    if (typeof runtimeId !== 'string') {
      throw new BadUserInputError([{ field: access.argPath, message: 'must be a runtime id' }]);
    }
    if (isPlatformAdmin) return true;
    const role = await this.memberships.roleOf(runtimeId, principal.id);
    if (!role) throw new RuntimeNotFoundError(runtimeId);
    if (!roleIncludes(role, access.role)) {
      throw new ForbiddenError(`this needs the ${access.role} role on runtime "${runtimeId}"`, {
        runtimeId,
      });
    }
    return true;
  }

  private args(context: ExecutionContext): unknown {
    if (context.getType<GqlContextType>() === 'graphql') {
      return GqlExecutionContext.create(context).getArgs();
    }
    const req = context.switchToHttp().getRequest<Request>();
    return { ...(req.body as object), ...req.query, ...req.params };
  }
}
