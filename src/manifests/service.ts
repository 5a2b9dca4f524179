/**
 * A service manifest: everything pgstacks knows of one service, in one place — its resource types
 * (which the handler bundle registers), its emulator (which `startSandbox` starts) and the
 * environment variables a deploy against it reads. src/manifests/index.ts lists them; no other
 * shared file names a service.
 */
import type { Emulator } from '../sandbox/emulator';

/**
 * Where the sandbox finds a service's emulator: a module path and the export, required only when
 * the sandbox starts, so the handler bundle never carries an emulator. `E` is its type, for the
 * sandbox's typed handles.
 */
export interface EmulatorReference<E extends Emulator<any, any>> {
  /** Absolute path of the module (without extension). */
  readonly module: string;
  readonly exportName: string;
  /** Type only: never set. */
  readonly type?: E;
}

export interface ServiceManifest<Name extends string = string, E extends Emulator<any, any> = Emulator<any, any>> {
  /** The service's name: the prefix of its resource types (`cognite:`), its sandbox handle (`sandbox.cognite`). */
  readonly name: Name;
  /** The environment variables a deploy reads (and `pgstacks sandbox` prints), by role. */
  readonly environment: Readonly<Record<string, string>>;
  /** Registers the service's resource types with the handler (each module registers on load). */
  loadResourceTypes(): void;
  /** Its emulator in the sandbox. */
  readonly emulator?: EmulatorReference<E>;
}

/** Declares a service manifest (typed, so the sandbox's handles are too). */
export function defineService<Name extends string, E extends Emulator<any, any>>(manifest: ServiceManifest<Name, E>): ServiceManifest<Name, E> {
  return manifest;
}

/** A reference to the emulator exported as `exportName` from `module`. */
export function emulatorAt<E extends Emulator<any, any>>(module: string, exportName: string): EmulatorReference<E> {
  return { module, exportName };
}
