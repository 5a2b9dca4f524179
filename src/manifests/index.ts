/** The services pgstacks supports: one manifest each (src/manifests/service.ts). */
import { atlan } from './atlan';
import { cognite } from './cognite';
import { databricks } from './databricks';
import { splitgraph } from './splitgraph';

export const SERVICES = [cognite, databricks, atlan, splitgraph] as const;

export type Services = typeof SERVICES;
export { defineService, emulatorAt, type EmulatorReference, type ServiceManifest } from './service';

/**
 * Registers the resource types of the services that `typeNames` belong to (a type's name starts
 * with its service's: `cognite:gateway-user`); with no names, every service's (the CLI, tests).
 * Types from elsewhere (a stack's own) are registered by their modules, bundled ahead.
 */
export function loadResourceTypes(typeNames?: readonly string[]): void {
  for (const service of SERVICES) {
    if (!typeNames || typeNames.some((name) => name.startsWith(`${service.name}:`))) service.loadResourceTypes();
  }
}
