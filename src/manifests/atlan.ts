/** Atlan: Postgres crawler workflows that catalog what a stack deploys. */
import * as path from 'node:path';
import { ATLAN_ENVIRONMENT } from '../services/atlan';
import { defineService, emulatorAt } from './service';

export const atlan = defineService({
  name: 'atlan',
  environment: ATLAN_ENVIRONMENT,
  // Its resource types are not built yet: only the emulator exists.
  loadResourceTypes: () => undefined,
  emulator: emulatorAt<typeof import('../sandbox/atlan').atlanEmulator>(path.join(__dirname, '..', 'sandbox', 'atlan'), 'atlanEmulator'),
});
