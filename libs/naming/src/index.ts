export {
  K8S_NAME_MAX,
  MONGO_DB_MAX,
  NATS_NAME_MAX,
  NATS_SUBJECT_MAX,
  Names,
  hashedK8sName,
  keys,
  slugify,
  type NameLimit,
} from './names.js';
