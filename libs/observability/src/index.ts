export { startHttpApp, type AppBootstrapEnv } from './bootstrap.js';
export { HealthModule, type DependencyCheck } from './health.module.js';
export { createLogger } from './logger.js';
