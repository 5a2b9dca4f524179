/** Atlan: Postgres crawler workflows that catalog what a stack deploys. */
import * as path from 'node:path';
import { ATLAN_ENVIRONMENT } from '../services/atlan';
import { defineService, emulatorAt } from './service';

export const atlan = defineService({
  name: 'atlan',
  environment: ATLAN_ENVIRONMENT,
  loadResourceTypes: () => require('../resources/atlan'),
  emulator: emulatorAt<typeof import('../sandbox/atlan').atlanEmulator>(path.join(__dirname, '..', 'sandbox', 'atlan'), 'atlanEmulator'),
});
