import type { TestProject } from 'vitest/node';
import { type ServiceUrls, startServices } from './services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    services: ServiceUrls;
  }
}

/**
 * Vitest global setup of the int and e2e tiers: one private set of backing services per run,
 * on random loopback ports, so the suite never touches a running dev stack.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const services = await startServices();
  project.provide('services', services.urls);
  return () => services.stop();
}
