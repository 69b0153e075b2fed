import { readFileSync } from 'node:fs';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { Names } from '@libs/naming';
import { z } from 'zod';
import { NATS_CONNECTION } from '../nats.module.js';
import type { VersionResources } from '../version-resources.js';
import {
  accountJwt,
  credsPublicKey,
  mintSystemUser,
  mintUser,
  parseNatsAuthority,
  publicKeys,
  revocationsOf,
  type NatsAuthority,
} from './nats-authority.js';
import { workloadPermissions } from './nats-permissions.js';

/** Injection token of the installation's NATS authority and the server's URL. */
export const NATS_AUTHORITY = Symbol('NATS_AUTHORITY');

export interface NatsAuthorityOptions {
  /** `NATS_AUTHORITY_FILE`: the authority's JSON (the deployer's alone). */
  readonly file: string;
  /** `NATS_URL`: where the system user pushes revocations. */
  readonly url: string;
}

/** What the deployer pinned for a running version: its identity and its KRT copy's digest. */
export interface VersionPins {
  /** The `.creds` text of the version's NATS user (workloads read it from `KRT_NATS_CREDS`). */
  readonly credentials: string;
  /** sha256 (hex) of the KRT copy the deployer stored (`KRT_ARCHIVE_SHA256`). */
  readonly krtSha256?: string;
}

const pinsSchema = z.object({
  credentials: z.string().min(1),
  krtSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});

/** How often a revocation is pushed again when another deployer's update overtook it. */
const REVOCATION_ATTEMPTS = 5;

/**
 * The NATS identities of running versions: one user per version, permissions from its resources
 * (nats-permissions.ts), minted at its first start and kept (with its KRT copy's digest) in the
 * engine-only bucket `<p>_deployments`, so a restart of the deployer or a roll hands workloads
 * the same credentials; revoked in the account JWT (pushed through the system account) when
 * the version stops, which disconnects its workloads and refuses them from then on.
 */
@Injectable()
export class WorkloadIdentities implements OnApplicationShutdown {
  private readonly logger = new Logger(WorkloadIdentities.name);
  private readonly authority: NatsAuthority;
  private bucket?: Promise<KV>;
  private system?: Promise<NatsConnection>;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    private readonly names: Names,
    @Inject(NATS_AUTHORITY) private readonly options: NatsAuthorityOptions,
  ) {
    this.authority = parseNatsAuthority(readFileSync(options.file, 'utf8'));
  }

  /**
   * The version's pins: the recorded ones, or a new identity. `krtSha256` (when the start just
   * stored a KRT copy) replaces the recorded digest.
   */
  async pin(resources: VersionResources, krtSha256?: string): Promise<VersionPins> {
    const key = this.key(resources.runtimeId, resources.version);
    const recorded = await this.read(key);
    const credentials =
      recorded?.credentials ??
      (
        await mintUser(
          this.authority,
          this.names.workloadUser(resources.runtimeId, resources.version),
          workloadPermissions(this.names, resources),
        )
      ).creds;
    const pins: VersionPins = {
      credentials,
      ...((krtSha256 ?? recorded?.krtSha256)
        ? { krtSha256: krtSha256 ?? recorded?.krtSha256 }
        : {}),
    };
    if (!recorded || recorded.krtSha256 !== pins.krtSha256)
      await (await this.kv()).put(key, JSON.stringify(pins));
    return pins;
  }

  /** Revokes the version's identity (its workloads are cut off) and forgets its pins. */
  async revoke(runtimeId: string, version: string): Promise<void> {
    const key = this.key(runtimeId, version);
    const recorded = await this.read(key);
    if (!recorded) return;
    await this.revokeKey(credsPublicKey(recorded.credentials));
    await (await this.kv()).delete(key);
    this.logger.log(`revoked the NATS identity of ${runtimeId}/${version}`);
  }

  /** Revokes every identity of a runtime's versions (the runtime is being deleted). */
  async revokeRuntime(runtimeId: string): Promise<void> {
    const versions: string[] = [];
    for await (const key of await (await this.kv()).keys(`${runtimeId}.>`))
      versions.push(key.slice(runtimeId.length + 1));
    for (const version of versions) await this.revoke(runtimeId, version);
  }

  async onApplicationShutdown(): Promise<void> {
    const system = await this.system?.catch(() => undefined);
    if (system && !system.isClosed()) await system.close();
  }

  private key(runtimeId: string, version: string): string {
    return `${runtimeId}.${version}`;
  }

  private kv(): Promise<KV> {
    this.bucket ??= new Kvm(this.nc).create(this.names.deploymentsBucket(), { history: 1 });
    return this.bucket;
  }

  private async read(key: string): Promise<VersionPins | null> {
    const entry = await (await this.kv()).get(key);
    if (!entry || entry.operation !== 'PUT') return null;
    const parsed = pinsSchema.safeParse(entry.json());
    return parsed.success ? parsed.data : null;
  }

  private systemConnection(): Promise<NatsConnection> {
    this.system ??= mintSystemUser(this.authority).then((creds) =>
      connect({
        servers: this.options.url,
        name: `${this.names.prefix}-deployer-sys`,
        authenticator: credsAuthenticator(new TextEncoder().encode(creds)),
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
      }),
    );
    return this.system;
  }

  /**
   * Adds `userKey` to the account's revocations: read the account JWT the servers hold, add,
   * sign, push, and read back (two deployers revoking at once may overwrite each other: the
   * one whose key is missing pushes again).
   */
  private async revokeKey(userKey: string): Promise<void> {
    const system = await this.systemConnection();
    const account = publicKeys(this.authority).account;
    for (let attempt = 1; attempt <= REVOCATION_ATTEMPTS; attempt++) {
      const current = await this.lookup(system, account);
      if (current[userKey]) return;
      const signed = await accountJwt(this.authority, {
        ...current,
        [userKey]: Math.floor(Date.now() / 1_000),
      });
      const reply = await system.request('$SYS.REQ.CLAIMS.UPDATE', signed, { timeout: 5_000 });
      const answer = reply.json<{ error?: { description?: string } }>();
      if (answer.error)
        throw new Error(`NATS refused the revocation: ${answer.error.description ?? 'unknown'}`);
      if ((await this.lookup(system, account))[userKey]) return;
    }
    throw new Error(
      `the revocation of ${userKey} did not hold after ${REVOCATION_ATTEMPTS} pushes`,
    );
  }

  private async lookup(system: NatsConnection, account: string): Promise<Record<string, number>> {
    const reply = await system.request(`$SYS.REQ.ACCOUNT.${account}.CLAIMS.LOOKUP`, '', {
      timeout: 5_000,
    });
    return revocationsOf(reply.string());
  }
}
