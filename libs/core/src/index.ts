export { UserActivityType } from './activity.js';
export { CLOCK, ManualClock, systemClock, type Clock } from './clock.js';
export {
  BadUserInputError,
  ConflictError,
  DomainError,
  ForbiddenError,
  InvalidOrExpiredLinkError,
  InvalidTransitionError,
  NotFoundError,
  RuntimeNotFoundError,
  UnauthenticatedError,
  type DomainErrorCode,
  type FieldError,
} from './errors.js';
export { PlatformRole, RuntimeRole, effectiveRuntimeRole, roleIncludes } from './roles.js';
export {
  RUNNING_STATUSES,
  TRANSITIONAL_STATUSES,
  jobOutOf,
  statusAfter,
  VERSION_TRANSITIONS,
  VersionStatus,
  type VersionAction,
  type VersionJobName,
  type VersionTransition,
} from './versions.js';
export {
  NO_USAGE,
  QUOTA_FIELDS,
  addUsage,
  describeExcess,
  formatCpu,
  formatDuration,
  formatMemory,
  parseCpu,
  parseDuration,
  parseMemory,
  quotaExcesses,
  type QuantityResult,
  type QuotaExcess,
  type QuotaField,
  type QuotaUsage,
  type ReplicaResources,
  type RuntimeQuota,
} from './quota.js';
