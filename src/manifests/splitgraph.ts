/**
 * Splitgraph-style data versioning (src/splitgraph) on any Postgres: the engine, tracked
 * repositories, tagged snapshots and pushes to other engines. No emulator: it runs on plain
 * Postgres, which the sandbox already has (and Lakebase endpoints are).
 */
import { defineService } from './service';

export const splitgraph = defineService<'splitgraph', never>({
  name: 'splitgraph',
  environment: {},
  loadResourceTypes: () => require('../resources/splitgraph'),
});
