/**
 * Time as the emulators see it. Every expiry (tokens, nonces) and every timestamp an emulator
 * reports reads the injected clock, so tests move time forward instead of sleeping.
 */

/** A source of the current time, in milliseconds since the epoch. */
export interface Clock {
  now(): number;
}

/** The real time (`Date.now`); the default. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that moves only when told to: for tests of expiry. */
export class ManualClock implements Clock {
  private current: number;

  /** @param start the initial time in ms since the epoch. @default Date.now() */
  constructor(start: number = Date.now()) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  /** Moves the clock forward by `ms` milliseconds. */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new Error(`a clock only moves forward; got advance(${ms})`);
    this.current += ms;
  }

  /** Moves the clock forward by `seconds` seconds. */
  advanceSeconds(seconds: number): void {
    this.advance(seconds * 1000);
  }
}
