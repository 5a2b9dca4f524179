/** The services pgstacks supports: one manifest each (src/manifests/service.ts). */
import { atlan } from './atlan';
import { cognite } from './cognite';
import { databricks } from './databricks';
import { splitgraph } from './splitgraph';

export const SERVICES = [cognite, databricks, atlan, splitgraph] as const;

export type Services = typeof SERVICES;
export { defineService, emulatorAt, type EmulatorReference, type ServiceManifest } from './service';

/** Registers every service's resource types (the handler, the CLI, tests). */
export function loadResourceTypes(): void {
  for (const service of SERVICES) service.loadResourceTypes();
}
