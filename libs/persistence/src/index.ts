export { consumeOnce, isDuplicateKey, withLease } from './atomic.js';
export { CatalogModule } from './catalog/catalog.module.js';
export {
  KRT_CHUNK_BYTES,
  KrtArchiveStore,
  RuntimesRepository,
  VersionNotFoundError,
  VersionsRepository,
} from './catalog/catalog.repositories.js';
export {
  InvocationKeyNotFoundError,
  InvocationKeysRepository,
  type InvocationKeyDoc,
} from './catalog/invocation-keys.repository.js';
export {
  quotaOf,
  requiresInvocationKey,
  unsetConfigKeys,
  type ConfigValueDoc,
  type RuntimeDoc,
  type StoredRuntimeQuota,
  type VersionDoc,
  type NodeAutoscaleDoc,
  type VersionScaleDoc,
} from './catalog/catalog.schemas.js';
export {
  ConfigCipher,
  ConfigValueUnreadableError,
  LegacyConfigValueError,
  type ConfigValueContext,
} from './catalog/config-cipher.js';
export { ApiTokensRepository, type ApiTokenDoc } from './identity/api-tokens.repository.js';
export {
  AuditRepository,
  activityId,
  type ActivityQuery,
  type ActivityVar,
  type UserActivityDoc,
} from './identity/audit.repository.js';
export { IdentityModule } from './identity/identity.module.js';
export { MembershipsRepository, type MembershipDoc } from './identity/memberships.repository.js';
export { SessionsRepository, type SessionDoc } from './identity/sessions.repository.js';
export { SettingsRepository, type SettingsValues } from './identity/settings.repository.js';
export { SignInLinksRepository, type SignInLinkDoc } from './identity/sign-in-links.repository.js';
export { UsersRepository, normalizeEmail, type UserDoc } from './identity/users.repository.js';
export {
  PersistenceModule,
  mongoCheck,
  mongooseOptions,
  type PersistenceOptions,
} from './persistence.module.js';
export { RuntimeDatabases } from './runtime-data/runtime-databases.service.js';
