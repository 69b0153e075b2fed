/** Injection token of the app's `Clock` (`@libs/core`); tests provide a `ManualClock`. */
export const CLOCK = Symbol('Clock');
