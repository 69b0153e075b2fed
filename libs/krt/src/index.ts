export { formatBytes, type KrtSource } from './archive.reader.js';
export { MANIFEST_NAMES } from './krt.contents.js';
export {
  KrtInvalidError,
  type KrtErrorBody,
  type KrtIssue,
  type KrtSeverity,
} from './krt.errors.js';
export {
  DEFAULT_KRT_LIMITS,
  DEFAULT_RUNTIME_ID_MAX_LENGTH,
  type KrtLimits,
  type KrtOptions,
  type KrtReadStats,
} from './krt.limits.js';
export type {
  Krt,
  KrtArchive,
  KrtNode,
  KrtNodeBatch,
  KrtObjectStore,
  KrtSubscription,
  KrtWorkflow,
} from './krt.model.js';
export { packKrt } from './krt.packer.js';
export {
  extractKrt,
  openKrt,
  readKrtDocument,
  type KrtDocument,
  validateKrtDirectory,
  type ExtractedKrt,
  type KrtExtractOptions,
} from './krt.reader.js';
export { DEFAULT_IGNORES } from './krtignore.matcher.js';
export {
  LOCKFILES,
  REQUIREMENTS_FILE,
  dependencyFolders,
  lockfilesOf,
  requirementsFileOf,
  type PythonRequirements,
} from './dependency.rules.js';
export { readPythonRequirements } from './python.requirements.js';
export {
  GO_RUNNER_IMAGES,
  PYTHON_RUNNER_IMAGES,
  imageRepository,
  nodeRuntime,
} from './runner.images.js';
