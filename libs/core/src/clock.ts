/** Where "now" comes from: injected, so expiry rules are tested with a clock the test moves. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/**
 * Injection token of an app's `Clock`: the one token every module injects (an app provides it
 * globally; code that finds none uses `systemClock`; tests provide a `ManualClock`).
 */
export const CLOCK = Symbol('Clock');

/** A clock that stands still until told to move (tests). */
export class ManualClock implements Clock {
  private current: Date;
  constructor(start: Date | string = '2026-01-01T00:00:00Z') {
    this.current = new Date(start);
  }
  now(): Date {
    return new Date(this.current);
  }
  set(to: Date | string): void {
    this.current = new Date(to);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}
