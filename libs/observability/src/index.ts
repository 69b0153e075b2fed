export { startHttpApp, type AppBootstrapEnv } from './bootstrap.js';
export { closeWithin, listenOn } from './server-lifecycle.js';
export { HealthModule, type DependencyCheck } from './health.module.js';
export { createLogger } from './logger.js';
