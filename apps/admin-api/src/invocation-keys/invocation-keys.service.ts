import { randomUUID } from 'node:crypto';
import { CLOCK, BadUserInputError, type Clock, ConflictError, UserActivityType } from '@libs/core';
import { INVOCATION_KEY_PREFIX } from '@libs/messaging';
import {
  type InvocationKeyDoc,
  InvocationKeysRepository,
  type RuntimeDoc,
  RuntimesRepository,
  requiresInvocationKey,
} from '@libs/persistence';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import type { Principal } from '../auth/principal.js';
import { randomBase62, sha256Hex } from '../common/secrets.js';
import { InvocationKeysPublisher } from './invocation-keys.publisher.js';

/** `kre_ik_` + 40 random base62 characters (238 bits): what a secret scanner looks for. */
export const INVOCATION_KEY_PATTERN = /\bkre_ik_[0-9A-Za-z]{40}\b/g;

export function newInvocationKey(): string {
  return `${INVOCATION_KEY_PREFIX}${randomBase62(40)}`;
}

/** The gateways could not be told: the change is stored, and the caller should retry. */
export class GatewaysNotToldError extends ConflictError {
  constructor(what: string, retry: string, cause: unknown) {
    super(`${what}, but the gateways could not be told yet: ${retry}`);
    this.cause = cause;
  }
}

export interface CreatedKey {
  /** The key: returned once, never stored. */
  key: string;
  invocationKey: InvocationKeyDoc;
}

/** A runtime's invocation keys (the caller's runtime role was checked by the guard). */
@Injectable()
export class InvocationKeysService {
  private readonly logger = new Logger(InvocationKeysService.name);

  constructor(
    private readonly keys: InvocationKeysRepository,
    private readonly runtimes: RuntimesRepository,
    private readonly publisher: InvocationKeysPublisher,
    private readonly audit: AuditService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Oldest first, revoked ones included (never a key or its hash). */
  async list(runtimeId: string): Promise<InvocationKeyDoc[]> {
    await this.runtimes.get(runtimeId);
    return this.keys.listByRuntime(runtimeId);
  }

  /**
   * A new key of the runtime, working at every gateway within seconds.
   * @throws BadUserInputError for an expiry not in the future; ConflictError for a name in use.
   */
  async create(
    by: Principal,
    runtimeId: string,
    name: string,
    expiresAt?: Date | null,
  ): Promise<CreatedKey> {
    await this.runtimes.get(runtimeId);
    const now = this.clock.now();
    if (expiresAt && expiresAt.getTime() <= now.getTime()) {
      throw new BadUserInputError([{ field: 'input.expiresAt', message: 'must be in the future' }]);
    }
    const key = newInvocationKey();
    const doc: InvocationKeyDoc = {
      _id: `ik_${randomUUID()}`,
      runtimeId,
      name,
      hash: sha256Hex(key),
      createdAt: now,
      createdBy: by.id,
      ...(expiresAt ? { expiresAt } : {}),
    };
    await this.keys.insert(doc);
    await this.audit.record({
      type: UserActivityType.CREATE_INVOCATION_KEY,
      user: by,
      runtimeId,
      vars: {
        INVOCATION_KEY_ID: doc._id,
        INVOCATION_KEY_NAME: name,
        EXPIRES_AT: expiresAt ? expiresAt.toISOString() : 'never',
      },
    });
    await this.tellGateways(runtimeId, `key "${name}" was created`, 'it works once they are');
    return { key, invocationKey: doc };
  }

  /**
   * Revokes a key of the runtime: every gateway refuses it within seconds. Revoking a revoked
   * key publishes the runtime's keys again (so a revocation the gateways missed can be retried)
   * and records nothing new.
   * @throws InvocationKeyNotFoundError for a key of another runtime, as for a missing one.
   */
  async revoke(by: Principal, runtimeId: string, id: string): Promise<InvocationKeyDoc> {
    let doc: InvocationKeyDoc;
    try {
      doc = await this.keys.revoke(runtimeId, id, by.id, this.clock.now());
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      const existing = (await this.keys.listByRuntime(runtimeId)).find((k) => k._id === id);
      if (!existing) throw error;
      await this.tellGateways(runtimeId, `key "${existing.name}" is revoked`, 'revoke it again');
      return existing;
    }
    await this.audit.record({
      type: UserActivityType.REVOKE_INVOCATION_KEY,
      user: by,
      runtimeId,
      vars: { INVOCATION_KEY_ID: doc._id, INVOCATION_KEY_NAME: doc.name },
    });
    await this.tellGateways(runtimeId, `key "${doc.name}" is revoked`, 'revoke it again');
    return doc;
  }

  /**
   * Turns the gateway's key check on or off for the runtime (`Runtime.requireInvocationKey`).
   * @throws RuntimeNotFoundError
   */
  async setRequired(by: Principal, runtimeId: string, required: boolean): Promise<RuntimeDoc> {
    const before = await this.runtimes.get(runtimeId);
    const runtime = await this.runtimes.setRequireInvocationKey(runtimeId, required);
    if (requiresInvocationKey(before) !== required) {
      await this.audit.record({
        type: UserActivityType.UPDATE_RUNTIME,
        user: by,
        runtimeId,
        vars: {
          FIELD: 'requireInvocationKey',
          OLD_VALUE: String(requiresInvocationKey(before)),
          NEW_VALUE: String(required),
        },
      });
    }
    await this.tellGateways(
      runtimeId,
      `requireInvocationKey is ${required}`,
      'set it again (it applies once they are told)',
    );
    return runtime;
  }

  /**
   * A new runtime starts with no keys (a deleted runtime of the same id may have left some) and
   * its gateway entry is written at once. Not being able to write it is no failure: without an
   * entry the gateways refuse every call, as they would with `requireInvocationKey: true`.
   */
  async runtimeCreated(runtimeId: string): Promise<void> {
    await this.keys.removeAllOf(runtimeId);
    try {
      await this.publisher.changed(runtimeId);
    } catch (error) {
      this.logger.warn(`runtime ${runtimeId}: invocation keys not published yet: ${String(error)}`);
    }
  }

  /** Publishes the runtime's keys and flag after a change to them (runtime updates too). */
  async tellGateways(runtimeId: string, what: string, retry: string): Promise<void> {
    try {
      await this.publisher.changed(runtimeId);
    } catch (error) {
      this.logger.error(`runtime ${runtimeId}: ${what}, not published: ${String(error)}`);
      throw new GatewaysNotToldError(what, retry, error);
    }
  }
}
