import type { RuntimeRole } from '@libs/core';
import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import { type Principal, principalOf } from './principal.js';

/** Who may call a query, mutation, subscription or route: every one of them declares it. */
export type Access =
  | { kind: 'public' }
  | { kind: 'signedIn' }
  | { kind: 'platformAdmin' }
  | { kind: 'runtimeRole'; role: RuntimeRole; argPath: string };

export const ACCESS_KEY = 'kre:access';

/** Anyone, signed in or not. */
export const Public = () => SetMetadata(ACCESS_KEY, { kind: 'public' } satisfies Access);
/** Any signed-in user or API token. */
export const RequireSignedIn = () => SetMetadata(ACCESS_KEY, { kind: 'signedIn' } satisfies Access);
/** Platform admins only. */
export const RequirePlatformAdmin = () =>
  SetMetadata(ACCESS_KEY, { kind: 'platformAdmin' } satisfies Access);
/**
 * At least `role` on the runtime whose id is at `argPath` in the arguments (`'runtimeId'`,
 * `'input.runtimeId'`). Platform admins act as `ADMIN` everywhere. When the argument is absent
 * (an optional filter), the call spans every runtime and only platform admins pass. A runtime
 * the caller is not a member of gets the same NOT_FOUND as one that does not exist.
 */
export const RequireRuntimeRole = (role: RuntimeRole, argPath: string) =>
  SetMetadata(ACCESS_KEY, { kind: 'runtimeRole', role, argPath } satisfies Access);

/** The verified caller (guards have run: non-null wherever the access is not `Public`). */
export const CurrentUser = createParamDecorator(
  (_: unknown, context: ExecutionContext): Principal => principalOf(context)!,
);
