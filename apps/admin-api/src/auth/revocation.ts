import type { Principal } from './principal.js';

/**
 * Which credentials died: every session or token of some users, or exact credentials; or
 * whose access to one runtime changed (`runtime`: their credentials stay valid). The message of
 * `<p>.svc.admin-api.revoked`: LiveConnections sends it to every replica and closes what it
 * names; the TokenCache evicts by it.
 */
export interface Revocation {
  userIds?: string[];
  /** Only credentials of this kind (e.g. `revokeUserSessions` leaves API tokens alone). */
  via?: Principal['via'];
  credentialHashes?: string[];
  runtime?: RuntimeAccessChange;
}

/** Access to one runtime changed: subscriptions on it end or are checked again; sockets stay. */
export interface RuntimeAccessChange {
  runtimeId: string;
  /** Members removed or given another role: checked against their role now. */
  userIds?: string[];
  /** The runtime is being deleted: every subscription on it ends, platform admins' too. */
  deleted?: boolean;
}
