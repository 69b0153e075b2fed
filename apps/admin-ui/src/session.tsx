import { createContext, useContext } from 'react';
import type { ResultOf } from './graphql.ts';
import type { ME } from './queries.ts';

export type Me = ResultOf<typeof ME>['me'];

/** The signed-in person (from `me`), for the pages that depend on who it is. */
export const SessionContext = createContext<Me | null>(null);

export function useMe(): Me {
  const me = useContext(SessionContext);
  if (!me) throw new Error('useMe outside a signed-in page');
  return me;
}

export type RuntimeRole = 'ADMIN' | 'MANAGER' | 'VIEWER';
const RANK: Record<RuntimeRole, number> = { VIEWER: 1, MANAGER: 2, ADMIN: 3 };

/** What the caller may do in a runtime: platform admins act as its ADMIN, as admin-api does. */
export function roleIn(
  me: Me,
  members: readonly { userId: string; role: RuntimeRole }[],
): RuntimeRole | null {
  if (me.platformRole === 'ADMIN') return 'ADMIN';
  return members.find((m) => m.userId === me.id)?.role ?? null;
}

export const atLeast = (role: RuntimeRole | null, wanted: RuntimeRole) =>
  role !== null && RANK[role] >= RANK[wanted];
