/*
 * The installation's NATS trust: decentralized JWT authentication (operator mode). One operator;
 * the system account; one account for the installation, whose users are the engine's apps (each
 * with its own permissions) and one user per running version (permissions from its resources,
 * minted by the deployer, revoked when the version stops). docs/security.md, "NATS identities".
 *
 * This file imports packages only (no project paths): scripts/nats-auth.ts and the tests'
 * services load it directly with Node, before and beside the build.
 */
import {
  Algorithms,
  createAccount,
  createOperator,
  createUser,
  decode,
  encodeAccount,
  encodeOperator,
  encodeUser,
  fmtCreds,
  fromSeed,
  type Account,
  type KeyPair,
  type User,
} from '@nats-io/jwt';

/** The secrets of an installation's NATS trust (one JSON file, readable by the deployer only). */
export interface NatsAuthority {
  readonly version: 1;
  readonly operatorSeed: string;
  readonly systemAccountSeed: string;
  /** The installation's account (every app and workload user lives in it). */
  readonly accountSeed: string;
  /** Signs the account's users; listed as the account's signing key. */
  readonly accountSigningSeed: string;
}

/** Allow-lists of a user (the shape of `NatsPermissions` in nats-permissions.ts). */
export interface UserPermissions {
  readonly pub: readonly string[];
  readonly sub: readonly string[];
  readonly allowResponses?: boolean;
}

const encoder = new TextEncoder();
const seedOf = (kp: KeyPair) => new TextDecoder().decode(kp.getSeed());
const pair = (seed: string) => fromSeed(encoder.encode(seed));

export function createNatsAuthority(): NatsAuthority {
  return {
    version: 1,
    operatorSeed: seedOf(createOperator()),
    systemAccountSeed: seedOf(createAccount()),
    accountSeed: seedOf(createAccount()),
    accountSigningSeed: seedOf(createAccount()),
  };
}

/** Reads an authority file's JSON; names what is wrong. */
export function parseNatsAuthority(json: string): NatsAuthority {
  let value: Partial<NatsAuthority>;
  try {
    value = JSON.parse(json) as Partial<NatsAuthority>;
  } catch {
    throw new Error('the NATS authority file is not JSON');
  }
  for (const field of [
    'operatorSeed',
    'systemAccountSeed',
    'accountSeed',
    'accountSigningSeed',
  ] as const) {
    if (typeof value[field] !== 'string' || !value[field].startsWith('S')) {
      throw new Error(`the NATS authority file's ${field} is missing or not an nkey seed`);
    }
  }
  return value as NatsAuthority;
}

export const publicKeys = (authority: NatsAuthority) => ({
  operator: pair(authority.operatorSeed).getPublicKey(),
  systemAccount: pair(authority.systemAccountSeed).getPublicKey(),
  account: pair(authority.accountSeed).getPublicKey(),
  accountSigning: pair(authority.accountSigningSeed).getPublicKey(),
});

export function operatorJwt(authority: NatsAuthority): Promise<string> {
  return encodeOperator('kre', pair(authority.operatorSeed), {
    system_account: publicKeys(authority).systemAccount,
  });
}

export function systemAccountJwt(authority: NatsAuthority): Promise<string> {
  return encodeAccount(
    'SYS',
    pair(authority.systemAccountSeed),
    { limits: { ...CORE_LIMITS } },
    { signer: pair(authority.operatorSeed), algorithm: Algorithms.v2 },
  );
}

/** No cap on connections, subscriptions or payloads beyond the server's own. */
const CORE_LIMITS = {
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  wildcards: true,
  conn: -1,
  leaf: -1,
} as const;

/** Every user starts with nothing: its own JWT's allow-lists are all it may do. */
const DENY_ALL = { pub: { deny: ['>'] }, sub: { deny: ['>'] } };

/**
 * The installation's account: JetStream on (streams are the deployer's to make, with their own
 * limits), users only from the signing key, and the revoked users' keys.
 */
export function accountJwt(
  authority: NatsAuthority,
  revocations: Readonly<Record<string, number>> = {},
): Promise<string> {
  const account: Partial<Account> = {
    signing_keys: [publicKeys(authority).accountSigning],
    default_permissions: DENY_ALL,
    limits: {
      ...CORE_LIMITS,
      mem_storage: -1,
      disk_storage: -1,
      streams: -1,
      consumer: -1,
    },
    ...(Object.keys(revocations).length > 0 ? { revocations: { ...revocations } } : {}),
  };
  return encodeAccount('kre', pair(authority.accountSeed), account, {
    signer: pair(authority.operatorSeed),
    algorithm: Algorithms.v2,
  });
}

/** The revocations an account JWT carries. */
export function revocationsOf(accountJwtText: string): Record<string, number> {
  return { ...(decode<Account>(accountJwtText).nats.revocations ?? {}) };
}

/** A new user of the installation's account: a `.creds` file's text and the user's key. */
export async function mintUser(
  authority: NatsAuthority,
  name: string,
  permissions: UserPermissions,
): Promise<{ creds: string; publicKey: string }> {
  const user = createUser();
  const claims: Partial<User> = {
    issuer_account: publicKeys(authority).account,
    pub: { allow: [...permissions.pub] },
    sub: { allow: [...permissions.sub] },
    ...(permissions.allowResponses ? { resp: { max: 1, ttl: 0 } } : {}),
  };
  const jwt = await encodeUser(name, user, pair(authority.accountSigningSeed), claims, {
    algorithm: Algorithms.v2,
  });
  return {
    creds: new TextDecoder().decode(fmtCreds(jwt, user)),
    publicKey: user.getPublicKey(),
  };
}

/**
 * A user of the system account: pushes the installation's account JWT (revocations) to the
 * servers and reads it back, nothing else.
 */
export async function mintSystemUser(authority: NatsAuthority): Promise<string> {
  const user = createUser();
  const jwt = await encodeUser(
    'kre-deployer-sys',
    user,
    pair(authority.systemAccountSeed),
    {
      pub: { allow: ['$SYS.REQ.CLAIMS.UPDATE', '$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP'] },
      sub: { allow: ['_INBOX.>'] },
    },
    { algorithm: Algorithms.v2 },
  );
  return new TextDecoder().decode(fmtCreds(jwt, user));
}

/** The user public key of a `.creds` file's text. */
export function credsPublicKey(creds: string): string {
  const jwt = /-----BEGIN NATS USER JWT-----\s*(\S+)\s*------END/.exec(creds)?.[1];
  if (!jwt) throw new Error('not a NATS credentials file');
  return decode<User>(jwt).sub;
}

export interface NatsServerConfigOptions {
  readonly host: string;
  readonly port: number;
  /** JetStream's store. */
  readonly storeDir: string;
  /** Where the account resolver keeps account JWTs (revocations survive a restart). */
  readonly resolverDir: string;
  /** HTTP monitoring port (omitted: none). */
  readonly monitorPort?: number;
}

/** A nats-server configuration file's text: operator mode, a full resolver, JetStream. */
export async function natsServerConfig(
  authority: NatsAuthority,
  options: NatsServerConfigOptions,
): Promise<string> {
  const quote = (value: string) => JSON.stringify(value);
  return [
    `host: ${quote(options.host)}`,
    `port: ${options.port}`,
    ...(options.monitorPort ? [`http: ${quote(`${options.host}:${options.monitorPort}`)}`] : []),
    `jetstream { store_dir: ${quote(options.storeDir)} }`,
    await natsAuthConfig(authority, options),
  ].join('\n');
}

/**
 * The trust part of a nats-server configuration, for a server whose own file `include`s it (the
 * Helm chart's, an external server's): operator, system account, full resolver, preloaded
 * accounts, and the control line size the users' JWTs need.
 */
export async function natsAuthConfig(
  authority: NatsAuthority,
  options: Pick<NatsServerConfigOptions, 'resolverDir'>,
): Promise<string> {
  const keys = publicKeys(authority);
  const quote = (value: string) => JSON.stringify(value);
  return [
    // A version's user JWT lists each of its streams and buckets: it travels in CONNECT, whose
    // line would otherwise be capped at 4 KiB.
    'max_control_line: 65536',
    // A client signs the server's nonce before it may speak: under load (a deployer starting a
    // version's replicas at once) that takes longer than the default two seconds.
    'authorization { timeout: 10 }',
    `operator: ${quote(await operatorJwt(authority))}`,
    `system_account: ${quote(keys.systemAccount)}`,
    `resolver { type: full, dir: ${quote(options.resolverDir)}, allow_delete: false, interval: "2m", timeout: "5s" }`,
    'resolver_preload {',
    `  ${keys.systemAccount}: ${quote(await systemAccountJwt(authority))}`,
    `  ${keys.account}: ${quote(await accountJwt(authority))}`,
    '}',
    '',
  ].join('\n');
}
