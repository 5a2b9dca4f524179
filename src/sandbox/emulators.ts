/**
 * The sandbox's emulators, one per service that has one, found through the service manifests
 * (src/manifests): `startSandbox` starts each and exposes its handle under the service's name.
 */
import type { Services } from '../manifests';
import { SERVICES } from '../manifests';
import type { Emulator } from './emulator';

type WithEmulator = Extract<Services[number], { readonly emulator?: unknown }>;
type EmulatorOf<S> = S extends { readonly emulator?: { readonly type?: infer E } } ? NonNullable<E> : never;
type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;

/** Each service's sandbox handle, by service name (`sandbox.cognite`). */
export type EmulatorHandles = { readonly [S in WithEmulator as S['name']]: EmulatorOf<S> extends Emulator<any, infer H> ? H : never };

/** Every emulator's own options, part of the sandbox options. */
export type EmulatorOptions = UnionToIntersection<EmulatorOf<WithEmulator> extends Emulator<infer O, any> ? O : never>;

/** The emulators by service name, loaded from their modules. */
export function loadEmulators(): Array<readonly [string, Emulator<EmulatorOptions, unknown>]> {
  return SERVICES.filter((s) => s.emulator).map((s) => {
    const { module, exportName } = s.emulator as { module: string; exportName: string };
    return [s.name, (require(module) as Record<string, Emulator<EmulatorOptions, unknown>>)[exportName]] as const;
  });
}
