/** The sandbox's emulators, one per service: `startSandbox` starts each and exposes its handle. */
import { atlanEmulator, type AtlanEmulatorOptions } from './atlan';
import { cogniteEmulator, type CogniteEmulatorOptions } from './cognite';
import { databricksEmulator, type DatabricksEmulatorOptions } from './databricks';

export const EMULATORS = { cognite: cogniteEmulator, databricks: databricksEmulator, atlan: atlanEmulator } as const;

/** Every emulator's own options, part of the sandbox options. */
export type EmulatorOptions = CogniteEmulatorOptions & DatabricksEmulatorOptions & AtlanEmulatorOptions;
