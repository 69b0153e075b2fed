/** Injection token of the `AuthConfig` derived from the environment. */
export const AUTH_CONFIG = Symbol('AuthConfig');
