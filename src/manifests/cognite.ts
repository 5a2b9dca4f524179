/** Cognite Data Fusion: the PostgreSQL Gateway's users and tables. */
import * as path from 'node:path';
import { COGNITE_ENVIRONMENT } from '../services/cognite';
import { defineService, emulatorAt } from './service';

export const cognite = defineService({
  name: 'cognite',
  environment: COGNITE_ENVIRONMENT,
  loadResourceTypes: () => require('../resources/cognite'),
  emulator: emulatorAt<typeof import('../sandbox/cognite').cogniteEmulator>(path.join(__dirname, '..', 'sandbox', 'cognite'), 'cogniteEmulator'),
});
