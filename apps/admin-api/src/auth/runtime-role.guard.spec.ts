import { PlatformRole, RuntimeRole } from '@libs/core';
import type { MembershipsRepository } from '@libs/persistence';
import type { ExecutionContext } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { describe, expect, it } from 'vitest';
import { RequireRuntimeRole } from './access.decorators.js';
import type { AuthenticatedRequest, Principal } from './principal.js';
import { EffectiveRole, RuntimeRoleGuard } from './runtime-role.guard.js';

class Handlers {
  @RequireRuntimeRole(RuntimeRole.VIEWER, 'runtimeId')
  read(): void {}

  @RequireRuntimeRole(RuntimeRole.MANAGER, 'runtimeId')
  change(): void {}
}

/** Memberships held in a map; counts the reads the guard makes. */
function memberships(roles: Record<string, RuntimeRole>) {
  const reads: string[] = [];
  const repository = {
    roleOf: (runtimeId: string, userId: string) => {
      reads.push(`${runtimeId}:${userId}`);
      return Promise.resolve(roles[`${runtimeId}:${userId}`] ?? null);
    },
  };
  return { reads, repository: repository as unknown as MembershipsRepository };
}

function call(handler: keyof Handlers, platformRole: PlatformRole, runtimeId: string) {
  const principal: Principal = {
    id: 'u1',
    email: 'u1@example.com',
    platformRole,
    via: 'session',
    credentialHash: 'h',
  };
  const req = {
    principal,
    body: {},
    query: {},
    params: { runtimeId },
  } as unknown as AuthenticatedRequest;
  // The guard reads the handler's metadata; the handler itself is never called.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const context = new ExecutionContextHost([req], Handlers, Handlers.prototype[handler]);
  context.setType('http');
  return { req, context: context as ExecutionContext };
}

class Probe {
  handle(@EffectiveRole() _role: RuntimeRole): void {}
}

/** What `@EffectiveRole()` hands a handler called in `context` (Nest's stored factory). */
function effectiveRole(context: ExecutionContext): unknown {
  const [argument] = Object.values(
    Reflect.getMetadata(ROUTE_ARGS_METADATA, Probe, 'handle') as Record<
      string,
      { factory: (data: unknown, context: ExecutionContext) => unknown }
    >,
  );
  return argument.factory(undefined, context);
}

describe(RuntimeRoleGuard.name, () => {
  it('makes a platform admin ADMIN without reading a membership', async () => {
    const { reads, repository } = memberships({});
    const sut = new RuntimeRoleGuard(new Reflector(), repository);
    const { req, context } = call('change', PlatformRole.ADMIN, 'rt1');
    await expect(sut.canActivate(context)).resolves.toBe(true);
    expect(reads).toEqual([]);
    expect(req.runtimeRoles?.get('rt1')).toBe(RuntimeRole.ADMIN);
    expect(effectiveRole(context)).toBe(RuntimeRole.ADMIN);
  });

  it("gives a member the membership's role, read once", async () => {
    const { reads, repository } = memberships({ 'rt1:u1': RuntimeRole.VIEWER });
    const sut = new RuntimeRoleGuard(new Reflector(), repository);
    const { context } = call('read', PlatformRole.USER, 'rt1');
    await expect(sut.canActivate(context)).resolves.toBe(true);
    expect(reads).toEqual(['rt1:u1']);
    expect(effectiveRole(context)).toBe(RuntimeRole.VIEWER);
    const change = call('change', PlatformRole.USER, 'rt1');
    await expect(sut.canActivate(change.context)).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('answers a non-member NOT_FOUND, as a runtime that does not exist', async () => {
    const { repository } = memberships({ 'rt2:u1': RuntimeRole.ADMIN });
    const sut = new RuntimeRoleGuard(new Reflector(), repository);
    const { req, context } = call('read', PlatformRole.USER, 'rt1');
    await expect(sut.canActivate(context)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: 'runtime "rt1" not found',
    });
    expect(req.runtimeRoles).toBeUndefined();
  });
});
