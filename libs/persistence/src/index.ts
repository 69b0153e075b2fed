export { consumeOnce, isDuplicateKey, withLease } from './atomic.js';
export {
  PersistenceModule,
  mongoCheck,
  mongooseOptions,
  type PersistenceOptions,
} from './persistence.module.js';
