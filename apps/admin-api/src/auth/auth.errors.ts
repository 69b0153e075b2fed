import { ForbiddenError } from '@libs/core';

/**
 * Why a signed-in caller may not do something, as a stable `reason` beside the `FORBIDDEN` code
 * (GraphQL `extensions.reason`), so clients can react (e.g. send the person to sign in again).
 */
export const ForbiddenReason = {
  RECENT_SIGN_IN_REQUIRED: 'RECENT_SIGN_IN_REQUIRED',
  SESSION_REQUIRED: 'SESSION_REQUIRED',
} as const;

/** The session is older than the action allows: the person signs in again, then retries. */
export class RecentSignInRequiredError extends ForbiddenError {
  constructor(action: string, maxAgeMinutes: number, setting: string) {
    super(
      `${action} needs a sign-in from the last ${maxAgeMinutes} minutes (${setting}): sign in again, then retry`,
      { reason: ForbiddenReason.RECENT_SIGN_IN_REQUIRED, maxSessionAgeMinutes: maxAgeMinutes },
    );
  }
}

/** Only a person's session may do this, not an API token (a token cannot extend itself). */
export class SessionRequiredError extends ForbiddenError {
  constructor(action: string) {
    super(`${action} needs a signed-in session: an API token cannot do it`, {
      reason: ForbiddenReason.SESSION_REQUIRED,
    });
  }
}

/** An operator asked for a link for an address that may not sign in. */
export class SignInNotAllowedError extends ForbiddenError {
  constructor(email: string) {
    super(
      `"${email}" may not sign in: no active user has this address and its domain is not in the settings' authAllowedDomains. Create the user first (createUser), or use an admin's address`,
      { email },
    );
  }
}
