/**
 * Domain errors: what went wrong in the language of KRE, mapped once per transport (GraphQL
 * `extensions.code`, REST `{code, message}` body and status). No transport imports here.
 */
export type DomainErrorCode =
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'BAD_USER_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'INVALID_TRANSITION'
  | 'INVALID_OR_EXPIRED_LINK'
  | 'KRT_INVALID';

/** One invalid field of an input: `field` is its path (`input.email`, `userIds.0`). */
export interface FieldError {
  field: string;
  message: string;
}

export abstract class DomainError extends Error {
  abstract readonly code: DomainErrorCode;
  constructor(
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Something does not exist, or exists but is not the caller's: the two look the same. */
export class NotFoundError extends DomainError {
  readonly code = 'NOT_FOUND';
  constructor(what: string, id: string) {
    super(`${what} "${id}" not found`, { [`${what}Id`]: id });
  }
}

/** A runtime the caller is not a member of, or that does not exist (the same answer). */
export class RuntimeNotFoundError extends NotFoundError {
  constructor(runtimeId: string) {
    super('runtime', runtimeId);
  }
}

export class ConflictError extends DomainError {
  readonly code = 'CONFLICT';
}

/** Input that does not validate; `errors` lists every invalid field at once. */
export class BadUserInputError extends DomainError {
  readonly code = 'BAD_USER_INPUT';
  constructor(
    readonly errors: readonly FieldError[],
    message = `invalid input: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
  ) {
    super(message, { errors });
  }
}

export class UnauthenticatedError extends DomainError {
  readonly code = 'UNAUTHENTICATED';
  constructor(message = 'sign in, or send a valid API token as "Authorization: Bearer <token>"') {
    super(message);
  }
}

export class ForbiddenError extends DomainError {
  readonly code = 'FORBIDDEN';
}

/** A state change that the current state does not allow. */
export class InvalidTransitionError extends DomainError {
  readonly code = 'INVALID_TRANSITION';
  constructor(from: string, to: string) {
    super(`cannot go from ${from} to ${to}`, { from, to });
  }
}

/**
 * A sign-in link that is unknown, used, superseded or expired: one answer for all four, so the
 * response says nothing about which.
 */
export class InvalidOrExpiredLinkError extends DomainError {
  readonly code = 'INVALID_OR_EXPIRED_LINK';
  constructor() {
    super('this sign-in link is invalid or has expired: request a new one');
  }
}
