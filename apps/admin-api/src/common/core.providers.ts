import { CLOCK, systemClock } from '@libs/core';
import { Names } from '@libs/naming';
import { ADMIN_API_ENV, type AdminApiEnv, authConfig } from '../admin-api.env.js';
import { AUTH_CONFIG } from '../admin-api.tokens.js';

/** What every admin-api module may inject, in the app and in its commands: env, names, auth config, clock. */
export function coreProviders(env: AdminApiEnv) {
  return [
    { provide: ADMIN_API_ENV, useValue: env },
    { provide: Names, useValue: new Names(env.KRE_PREFIX) },
    { provide: AUTH_CONFIG, useValue: authConfig(env) },
    { provide: CLOCK, useValue: systemClock },
  ];
}
