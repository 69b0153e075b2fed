/** What a user may do on the whole platform. */
export const PlatformRole = { ADMIN: 'ADMIN', USER: 'USER' } as const;
export type PlatformRole = (typeof PlatformRole)[keyof typeof PlatformRole];

/** What a member may do on one runtime; each role includes the ones before it. */
export const RuntimeRole = { VIEWER: 'VIEWER', MANAGER: 'MANAGER', ADMIN: 'ADMIN' } as const;
export type RuntimeRole = (typeof RuntimeRole)[keyof typeof RuntimeRole];

const RANK: Record<RuntimeRole, number> = { VIEWER: 1, MANAGER: 2, ADMIN: 3 };

/** True when `held` includes `required` (`VIEWER` < `MANAGER` < `ADMIN`). */
export function roleIncludes(held: RuntimeRole, required: RuntimeRole): boolean {
  return RANK[held] >= RANK[required];
}

/**
 * The role a user has on a runtime: platform admins act as `ADMIN` everywhere (their
 * membership is never read); others have their membership's role, or none.
 */
export async function effectiveRuntimeRole(
  platformRole: PlatformRole,
  membershipRole: () => Promise<RuntimeRole | null>,
): Promise<RuntimeRole | null> {
  return platformRole === PlatformRole.ADMIN ? RuntimeRole.ADMIN : membershipRole();
}
