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
  unsetConfigKeys,
  type ConfigValueDoc,
  type RuntimeDoc,
  type VersionDoc,
} from './catalog/catalog.schemas.js';
export {
  ConfigCipher,
  ConfigValueUnreadableError,
  LegacyConfigValueError,
  type ConfigValueContext,
} from './catalog/config-cipher.js';
export {
  PersistenceModule,
  mongoCheck,
  mongooseOptions,
  type PersistenceOptions,
} from './persistence.module.js';
export { RuntimeDatabases } from './runtime-data/runtime-databases.service.js';
