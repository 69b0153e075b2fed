import {
  BadUserInputError,
  ForbiddenError,
  PlatformRole,
  RuntimeNotFoundError,
  type RuntimeRole,
  UnauthenticatedError,
  effectiveRuntimeRole,
  roleIncludes,
} from '@libs/core';
import { MembershipsRepository } from '@libs/persistence';
import {
  type CanActivate,
  type ExecutionContext,
  Injectable,
  createParamDecorator,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GqlExecutionContext, type GqlContextType } from '@nestjs/graphql';
import type { Request } from 'express';
import { ACCESS_KEY, type Access } from './access.decorators.js';
import { type AuthenticatedRequest, type GqlContext, principalOf } from './principal.js';

/** The value at a dotted path (`input.runtimeId`) of the arguments. */
export function valueAt(args: unknown, path: string): unknown {
  let value = args;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function argsOf(context: ExecutionContext): unknown {
  if (context.getType<GqlContextType>() === 'graphql') {
    return GqlExecutionContext.create(context).getArgs();
  }
  const req = context.switchToHttp().getRequest<Request>();
  return { ...(req.body as object), ...req.query, ...req.params };
}

/** Where this call keeps the roles the guard decided: its GraphQL context or its request. */
function runtimeRoles(context: ExecutionContext): Map<string, RuntimeRole> {
  const holder: GqlContext | AuthenticatedRequest =
    context.getType<GqlContextType>() === 'graphql'
      ? GqlExecutionContext.create(context).getContext<GqlContext>()
      : context.switchToHttp().getRequest<AuthenticatedRequest>();
  return (holder.runtimeRoles ??= new Map<string, RuntimeRole>());
}

function accessOf(reflector: Reflector, context: ExecutionContext): Access | undefined {
  return reflector.getAllAndOverride<Access | undefined>(ACCESS_KEY, [
    context.getHandler(),
    context.getClass(),
  ]);
}

/**
 * `@RequireRuntimeRole(role, argPath)`: the runtime comes from the arguments, the role from the
 * verified caller, decided once per call by `effectiveRuntimeRole` (platform admins are ADMIN
 * everywhere without a read, others what their membership says) and kept for `@EffectiveRole()`.
 * Not a member and no such runtime give the same NOT_FOUND.
 */
@Injectable()
export class RuntimeRoleGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly memberships: MembershipsRepository,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const access = accessOf(this.reflector, context);
    if (access?.kind !== 'runtimeRole') return true;
    const principal = principalOf(context);
    if (!principal) throw new UnauthenticatedError();
    const runtimeId = valueAt(argsOf(context), access.argPath);
    if (runtimeId === undefined || runtimeId === null) {
      // Not a role on one runtime: the call spans them all.
      if (principal.platformRole === PlatformRole.ADMIN) return true;
      throw new ForbiddenError(
        `only platform admins may do this across all runtimes: pass ${access.argPath}`,
      );
    }
    if (typeof runtimeId !== 'string') {
      throw new BadUserInputError([{ field: access.argPath, message: 'must be a runtime id' }]);
    }
    const role = await effectiveRuntimeRole(principal.platformRole, () =>
      this.memberships.roleOf(runtimeId, principal.id),
    );
    if (!role) throw new RuntimeNotFoundError(runtimeId);
    if (!roleIncludes(role, access.role)) {
      throw new ForbiddenError(`this needs the ${access.role} role on runtime "${runtimeId}"`, {
        runtimeId,
      });
    }
    runtimeRoles(context).set(runtimeId, role);
    return true;
  }
}

const reflector = new Reflector();

/**
 * The caller's role on the runtime of a `@RequireRuntimeRole` handler, as the guard decided it
 * for this call (no second read).
 */
export const EffectiveRole = createParamDecorator(
  (_: unknown, context: ExecutionContext): RuntimeRole => {
    const access = accessOf(reflector, context);
    const runtimeId = access?.kind === 'runtimeRole' && valueAt(argsOf(context), access.argPath);
    const role = typeof runtimeId === 'string' && runtimeRoles(context).get(runtimeId);
    if (!role) {
      throw new Error(
        `@EffectiveRole() on ${context.getClass().name}.${context.getHandler().name}: the handler needs @RequireRuntimeRole with a runtime id, so the RuntimeRoleGuard decides the role first`,
      );
    }
    return role;
  },
);
