/**
 * What an emulator contributes to the sandbox: its HTTP services, a handle for tests, and the
 * environment a deploy against it needs. `startSandbox` iterates the catalog (emulators.ts), so
 * adding a service's emulator touches neither index.ts nor the HTTP layer.
 */
import type { Clock } from './clock';
import type { Service } from './http';
import type { PostgresServer } from './postgres';

/** What every emulator is given when the sandbox starts. */
export interface EmulatorContext<O> {
  /** The sandbox's base URL, `http://127.0.0.1:<port>`; services are mounted under it. */
  readonly url: string;
  /** The sandbox's data directory (absolute); an emulator keeps files of its own in a subdirectory. */
  readonly dataDir: string;
  /** The sandbox's PostgreSQL: a state database for the emulators and a superuser. */
  readonly pg: PostgresServer;
  readonly clock: Clock;
  /** The sandbox options, including the emulator's own. */
  readonly options: O;
}

export interface RunningEmulator<H> {
  readonly services: readonly Service[];
  /** What tests and examples use: URLs, credentials, helpers. */
  readonly handle: H;
  /** Environment variables a deploy against this emulator needs (printed by `pgstacks sandbox`). */
  env(): Record<string, string>;
  /**
   * Releases what the emulator runs beside the HTTP services (processes, listeners); called once
   * when the sandbox stops, after the HTTP server closes and before the sandbox's Postgres stops.
   */
  stop?(): Promise<void>;
}

export interface Emulator<O, H> {
  readonly name: string;
  /** Refuses bad options before anything starts. */
  validate?(options: O): void;
  start(context: EmulatorContext<O>): Promise<RunningEmulator<H>>;
}

export function defineEmulator<O, H>(emulator: Emulator<O, H>): Emulator<O, H> {
  return emulator;
}
