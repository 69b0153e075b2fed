// The version's entrypoint (gRPC and HTTP/JSON in front of its workflows), as a library: its own
// program (apps/entrypoint) and a version's shared workload process (apps/runner, `runner
// shared`) compose it the same way. Loads no Nest (docs/architecture.md, "Workloads").
export { composeEntrypoint, type EntrypointDeps } from './entrypoint.composition.js';
export { type EntrypointEnv, entrypointEnvSchema } from './entrypoint.env.js';
export { EntrypointService } from './entrypoint.service.js';
