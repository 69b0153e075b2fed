import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  enginePermissions,
  mintUser,
  parseNatsAuthority,
  workloadPermissions,
  type EngineApp,
  type NatsPermissions,
  type VersionResources,
} from '@libs/messaging';
import { Names } from '@libs/naming';

interface AuthorityEnv {
  readonly NATS_AUTHORITY_FILE: string;
}

/** Mints a user of the test server's account with `permissions`; the `.creds` file's path. */
export async function credentialsFile(
  env: AuthorityEnv,
  name: string,
  permissions: NatsPermissions,
): Promise<string> {
  const authority = parseNatsAuthority(readFileSync(env.NATS_AUTHORITY_FILE, 'utf8'));
  const { creds } = await mintUser(authority, name, permissions);
  const file = join(mkdtempSync(join(tmpdir(), 'kre-creds-')), `${name}.creds`);
  writeFileSync(file, creds, { mode: 0o600 });
  return file;
}

/** The identity an engine app gets in production (scripts/nats-auth mints the same). */
export function engineCredentials(
  env: AuthorityEnv & { readonly KRE_PREFIX: string },
  app: EngineApp,
): Promise<string> {
  return credentialsFile(env, `kre-${app}`, enginePermissions(new Names(env.KRE_PREFIX), app));
}

/** The identity the deployer mints for a version's workloads. */
export function workloadCredentials(
  env: AuthorityEnv & { readonly KRE_PREFIX: string },
  resources: VersionResources,
): Promise<string> {
  const names = new Names(env.KRE_PREFIX);
  return credentialsFile(
    env,
    names.workloadUser(resources.runtimeId, resources.version),
    workloadPermissions(names, resources),
  );
}
