/** Databricks: Lakebase Autoscaling projects, branches, endpoints, roles, databases, catalogs and synced tables. */
import * as path from 'node:path';
import { DATABRICKS_ENVIRONMENT } from '../services/databricks';
import { defineService, emulatorAt } from './service';

export const databricks = defineService({
  name: 'databricks',
  environment: DATABRICKS_ENVIRONMENT,
  loadResourceTypes: () => require('../resources/databricks'),
  emulator: emulatorAt<typeof import('../sandbox/databricks').databricksEmulator>(path.join(__dirname, '..', 'sandbox', 'databricks'), 'databricksEmulator'),
});
