import {
  CLOCK,
  BadUserInputError,
  ConflictError,
  NotFoundError,
  PlatformRole,
  RuntimeNotFoundError,
  RuntimeRole,
  UserActivityType,
  VersionStatus,
  formatCpu,
  formatDuration,
  formatMemory,
  parseCpu,
  parseDuration,
  parseMemory,
  type Clock,
  type QuantityResult,
  type FieldError,
  type RuntimeQuota,
} from '@libs/core';
import { MIN_OBS_BYTES, MIN_OBS_MAX_AGE_MS, defaultRuntimeQuota } from '@libs/config';
import { RuntimeJobsProducer } from '@libs/jobs';
import {
  RuntimesRepository,
  VersionsRepository,
  type RuntimeDoc,
  MembershipsRepository,
  UsersRepository,
  normalizeEmail,
  quotaOf,
} from '@libs/persistence';
import { Inject, Injectable } from '@nestjs/common';
import { ADMIN_API_ENV, type AdminApiEnv } from '../admin-api.env.js';
import { AuditService } from '../audit/audit.service.js';
import { LiveConnections } from '../auth/live-connections.service.js';
import type { Principal } from '../auth/principal.js';
import { InvocationKeysService } from '../invocation-keys/invocation-keys.service.js';
import type { RuntimeMember } from './runtimes.model.js';

/** Statuses in which a version holds resources that deleting the runtime must not pull away. */
const ACTIVE: readonly VersionStatus[] = [
  VersionStatus.STARTING,
  VersionStatus.STARTED,
  VersionStatus.PUBLISHED,
  VersionStatus.STOPPING,
];

/**
 * Wraps a failure to queue a job: the caller's change was rolled back. Why the queue (Redis)
 * refused is its `cause`, logged with an error id, never shown to the client.
 */
export class QueueUnavailableError extends ConflictError {
  constructor(cause: unknown) {
    super('the job could not be queued: nothing was changed, try again');
    this.cause = cause;
  }
}

/** The observability stream's storage: a size, at least 1Mi (less would drop records before mongo-writer reads them). */
function parseObsBytes(text: unknown): QuantityResult {
  const parsed = parseMemory(text);
  if (parsed.ok && parsed.value < MIN_OBS_BYTES)
    return { ok: false, reason: `must be at least 1Mi, not ${JSON.stringify(text)}` };
  return parsed;
}

@Injectable()
export class RuntimesService {
  constructor(
    private readonly runtimes: RuntimesRepository,
    private readonly versions: VersionsRepository,
    private readonly memberships: MembershipsRepository,
    private readonly users: UsersRepository,
    private readonly jobs: RuntimeJobsProducer,
    private readonly audit: AuditService,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly live: LiveConnections,
    private readonly invocationKeys: InvocationKeysService,
    @Inject(ADMIN_API_ENV) private readonly env: AdminApiEnv,
  ) {}

  /** The quota of a runtime that has none of its own (RUNTIME_QUOTA_*). */
  get defaultQuota(): RuntimeQuota {
    return defaultRuntimeQuota(this.env);
  }

  /**
   * Sets the runtime's quota (platform admins). Versions already running keep running; the next
   * start is checked against it (and, on Kubernetes, the namespace's ResourceQuota follows). A
   * changed observability storage or maximum age is applied to the runtime's stream in place by
   * an `update-quota` job (shrinking drops the oldest records not yet stored). Audited with the
   * old and the new values. Absent observability fields keep the runtime's current ones.
   * @throws BadUserInputError naming each field that is not a quantity
   */
  async setQuota(
    me: Principal,
    runtimeId: string,
    input: {
      replicas: number;
      memory: string;
      cpu: string;
      gpus: number;
      storage: string;
      observabilityStorage?: string | null;
      observabilityMaxAge?: string | null;
    },
    comment: string,
  ): Promise<RuntimeDoc> {
    const old = quotaOf(await this.runtimes.get(runtimeId), this.defaultQuota);
    const errors: FieldError[] = [];
    const read = (
      field: 'memory' | 'cpu' | 'storage' | 'observabilityStorage' | 'observabilityMaxAge',
      parse: (text: unknown) => QuantityResult,
      fallback = 0,
    ) => {
      const text = input[field];
      if (text === undefined || text === null) return fallback;
      const parsed = parse(text);
      if (parsed.ok) return parsed.value;
      errors.push({ field: `input.${field}`, message: parsed.reason });
      return 0;
    };
    const quota: RuntimeQuota = {
      replicas: input.replicas,
      memoryBytes: read('memory', parseMemory),
      cpuMillis: read('cpu', parseCpu),
      gpus: input.gpus,
      storageBytes: read('storage', parseMemory),
      obsBytes: read('observabilityStorage', parseObsBytes, old.obsBytes),
      obsMaxAgeMs: read(
        'observabilityMaxAge',
        (text) => parseDuration(text, MIN_OBS_MAX_AGE_MS),
        old.obsMaxAgeMs,
      ),
    };
    if (errors.length > 0) throw new BadUserInputError(errors);
    const runtime = await this.runtimes.setQuota(runtimeId, quota);
    if (quota.obsBytes !== old.obsBytes || quota.obsMaxAgeMs !== old.obsMaxAgeMs) {
      try {
        await this.jobs.add('update-quota', { runtimeId, by: me.id });
      } catch (error) {
        await this.runtimes.setQuota(runtimeId, old);
        throw new QueueUnavailableError(error);
      }
    }
    const shown = (q: RuntimeQuota): Record<string, string> => ({
      replicas: String(q.replicas),
      memory: formatMemory(q.memoryBytes),
      cpu: formatCpu(q.cpuMillis),
      gpus: String(q.gpus),
      storage: formatMemory(q.storageBytes),
      observabilityStorage: formatMemory(q.obsBytes),
      observabilityMaxAge: formatDuration(q.obsMaxAgeMs),
    });
    const was = Object.entries(shown(old)).map(([key, value]): [string, string] => [
      `old${key[0]?.toUpperCase() ?? ''}${key.slice(1)}`,
      value,
    ]);
    await this.audit.record({
      type: UserActivityType.SET_RUNTIME_QUOTA,
      user: me,
      runtimeId,
      vars: { ...shown(quota), ...Object.fromEntries(was), comment },
    });
    return runtime;
  }

  /**
   * Records the runtime (calls through the gateway need an invocation key), makes the creator
   * its ADMIN and queues its provisioning.
   */
  async create(
    me: Principal,
    input: { id: string; name: string; description: string },
  ): Promise<RuntimeDoc> {
    const runtime = await this.runtimes.create({
      _id: input.id,
      name: input.name,
      description: input.description,
      createdBy: me.id,
      quota: this.defaultQuota,
    });
    try {
      await this.memberships.put(input.id, me.id, RuntimeRole.ADMIN, this.clock.now());
      await this.jobs.add('create', { runtimeId: input.id, by: me.id });
    } catch (error) {
      await this.memberships.remove(input.id, me.id);
      await this.runtimes.remove(input.id);
      throw new QueueUnavailableError(error);
    }
    await this.invocationKeys.runtimeCreated(input.id);
    await this.audit.record({
      type: UserActivityType.CREATE_RUNTIME,
      user: me,
      runtimeId: input.id,
      vars: { name: input.name },
    });
    return runtime;
  }

  /** Members see their runtimes; platform admins see all. */
  async list(me: Principal): Promise<RuntimeDoc[]> {
    if (me.platformRole === PlatformRole.ADMIN) return this.runtimes.list();
    const mine = await this.memberships.listByUser(me.id);
    return this.runtimes.list(mine.map((m) => m.runtimeId));
  }

  get(id: string): Promise<RuntimeDoc> {
    return this.runtimes.get(id);
  }

  /** Refused while a version runs; otherwise a job removes everything the runtime owns. */
  async delete(me: Principal, id: string, comment: string): Promise<RuntimeDoc> {
    const runtime = await this.runtimes.get(id);
    const active = (await this.versions.list(id)).filter((v) => ACTIVE.includes(v.status));
    if (active.length > 0) {
      throw new ConflictError(
        `runtime "${id}" has running versions (${active.map((v) => `${v.name}: ${v.status}`).join(', ')}): stop them first`,
        { runtimeId: id },
      );
    }
    await this.runtimes.setStatus(id, 'DELETING');
    try {
      await this.jobs.add('delete', { runtimeId: id, by: me.id });
    } catch (error) {
      await this.runtimes.setStatus(id, runtime.status);
      throw new QueueUnavailableError(error);
    }
    for (const member of await this.memberships.listByRuntime(id))
      await this.memberships.remove(id, member.userId);
    this.live.runtimeDeleted(id); // every replica ends the runtime's subscriptions
    await this.audit.record({
      type: UserActivityType.DELETE_RUNTIME,
      user: me,
      runtimeId: id,
      vars: { comment },
    });
    return { ...runtime, status: 'DELETING' };
  }

  async members(runtimeId: string): Promise<RuntimeMember[]> {
    await this.runtimes.get(runtimeId);
    const memberships = await this.memberships.listByRuntime(runtimeId);
    const users = new Map(
      (await this.users.findActiveByIds(memberships.map((m) => m.userId))).map((u) => [u._id, u]),
    );
    return memberships
      .filter((m) => users.has(m.userId))
      .map((m) => ({
        userId: m.userId,
        email: users.get(m.userId)!.email,
        role: m.role,
        creationDate: m.creationDate,
      }));
  }

  async addMember(
    me: Principal,
    runtimeId: string,
    email: string,
    role: RuntimeRole,
  ): Promise<RuntimeMember> {
    await this.runtimes.get(runtimeId);
    const user = await this.users.findByEmail(normalizeEmail(email));
    if (!user || user.deletedAt) {
      throw new BadUserInputError([
        { field: 'input.email', message: 'no user has this address: create the user first' },
      ]);
    }
    if (await this.memberships.roleOf(runtimeId, user._id)) {
      throw new ConflictError(
        `${email} is already a member of runtime "${runtimeId}": change their role instead`,
      );
    }
    const now = this.clock.now();
    await this.memberships.put(runtimeId, user._id, role, now);
    await this.audit.record({
      type: UserActivityType.ADD_RUNTIME_MEMBER,
      user: me,
      runtimeId,
      vars: { email, role },
    });
    return { userId: user._id, email: user.email, role, creationDate: now };
  }

  async updateMemberRole(
    me: Principal,
    runtimeId: string,
    userId: string,
    role: RuntimeRole,
  ): Promise<RuntimeMember> {
    const member = (await this.members(runtimeId)).find((m) => m.userId === userId);
    if (!member) throw new NotFoundError('member', userId);
    if (member.role === RuntimeRole.ADMIN && role !== RuntimeRole.ADMIN)
      await this.keepAnAdmin(runtimeId, userId);
    await this.memberships.put(runtimeId, userId, role, member.creationDate);
    this.live.runtimeMembersChanged(runtimeId, [userId]); // their subscriptions: re-checked
    await this.audit.record({
      type: UserActivityType.UPDATE_RUNTIME_MEMBER_ROLE,
      user: me,
      runtimeId,
      vars: { userId, role },
    });
    return { ...member, role };
  }

  async removeMember(me: Principal, runtimeId: string, userId: string): Promise<RuntimeMember> {
    const member = (await this.members(runtimeId)).find((m) => m.userId === userId);
    if (!member) throw new NotFoundError('member', userId);
    if (member.role === RuntimeRole.ADMIN) await this.keepAnAdmin(runtimeId, userId);
    await this.memberships.remove(runtimeId, userId);
    this.live.runtimeMembersChanged(runtimeId, [userId]); // their subscriptions here end
    await this.audit.record({
      type: UserActivityType.REMOVE_RUNTIME_MEMBER,
      user: me,
      runtimeId,
      vars: { userId },
    });
    return member;
  }

  /** A runtime never loses its last ADMIN member (platform admins could recover it, but should not have to). */
  private async keepAnAdmin(runtimeId: string, leaving: string): Promise<void> {
    const admins = (await this.members(runtimeId)).filter(
      (m) => m.role === RuntimeRole.ADMIN && m.userId !== leaving,
    );
    if (admins.length === 0) {
      throw new ConflictError(
        `runtime "${runtimeId}" would have no ADMIN member left: make someone else ADMIN first`,
      );
    }
  }

  /** @throws RuntimeNotFoundError unless the runtime exists and is ready for versions. */
  async requireReady(runtimeId: string): Promise<RuntimeDoc> {
    const runtime = await this.runtimes.find(runtimeId);
    if (!runtime) throw new RuntimeNotFoundError(runtimeId);
    if (runtime.status !== 'CREATED') {
      throw new ConflictError(
        `runtime "${runtimeId}" is ${runtime.status}: wait until it is CREATED`,
        { runtimeId },
      );
    }
    return runtime;
  }
}
