/**
 * What the Lakebase API's roles, databases, credentials and synced tables are inside a branch's
 * Postgres: real roles (LOGIN unless NO_LOGIN; CREATEDB/CREATEROLE/BYPASSRLS as their attributes
 * say; DATABRICKS_SUPERUSER membership as membership in `databricks_superuser`), real databases,
 * tokens as passwords valid until the credential expires, and real tables.
 */
import type { ClientBase } from 'pg';
import { quoteIdent, quoteLiteral } from '../postgres';
import { SUPERUSER_ROLE } from './clusters';
import type { RoleRecord } from './model';

/** Creates the role, or brings an existing one (say, inherited from the source branch) in line. */
export async function applyRole(client: ClientBase, role: Pick<RoleRecord, 'postgres_role' | 'auth_method' | 'attributes' | 'membership_roles'>): Promise<void> {
  const name = quoteIdent(role.postgres_role);
  const options = [
    role.auth_method === 'NO_LOGIN' ? 'NOLOGIN' : 'LOGIN',
    role.attributes.createdb ? 'CREATEDB' : 'NOCREATEDB',
    role.attributes.createrole ? 'CREATEROLE' : 'NOCREATEROLE',
    role.attributes.bypassrls ? 'BYPASSRLS' : 'NOBYPASSRLS',
  ].join(' ');
  const exists = await roleExists(client, role.postgres_role);
  await client.query(`${exists ? 'ALTER' : 'CREATE'} ROLE ${name} ${options}`);
  const member = role.membership_roles.includes('DATABRICKS_SUPERUSER');
  await client.query(`${member ? 'GRANT' : 'REVOKE'} ${SUPERUSER_ROLE} ${member ? 'TO' : 'FROM'} ${name}`);
}

export async function roleExists(client: ClientBase, name: string): Promise<boolean> {
  return ((await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).rowCount ?? 0) > 0;
}

/** The databases a role may own objects in: every one but the templates. */
export async function databasesOf(client: ClientBase): Promise<string[]> {
  const found = await client.query('SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY datname');
  return found.rows.map((r: { datname: string }) => r.datname);
}

/** Drops the role; first hands what it owns to `reassignTo` in every database (as REASSIGN OWNED does). */
export async function dropRole(withDatabase: (database: string, fn: (client: ClientBase) => Promise<void>) => Promise<void>, name: string, reassignTo: string | undefined): Promise<void> {
  const databases: string[] = [];
  await withDatabase('postgres', async (client) => {
    databases.push(...(await databasesOf(client)));
  });
  if (reassignTo !== undefined) {
    for (const database of databases) {
      await withDatabase(database, async (client) => {
        await client.query(`REASSIGN OWNED BY ${quoteIdent(name)} TO ${quoteIdent(reassignTo)}`);
        await client.query(`DROP OWNED BY ${quoteIdent(name)}`);
      });
    }
  }
  await withDatabase('postgres', async (client) => {
    if (await roleExists(client, name)) await client.query(`DROP ROLE ${quoteIdent(name)}`);
  });
}

export async function databaseExists(client: ClientBase, name: string): Promise<boolean> {
  return ((await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount ?? 0) > 0;
}

export async function createDatabase(client: ClientBase, name: string, owner: string): Promise<void> {
  await client.query(`CREATE DATABASE ${quoteIdent(name)} OWNER ${quoteIdent(owner)}`);
}

/** Renames a database; its sessions are ended first, as Postgres will not rename one in use. */
export async function renameDatabase(client: ClientBase, from: string, to: string): Promise<void> {
  await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [from]);
  await client.query(`ALTER DATABASE ${quoteIdent(from)} RENAME TO ${quoteIdent(to)}`);
}

export async function setDatabaseOwner(client: ClientBase, name: string, owner: string): Promise<void> {
  await client.query(`ALTER DATABASE ${quoteIdent(name)} OWNER TO ${quoteIdent(owner)}`);
  // The owner also gets the public schema, as a database's creator does.
  await client.query(`ALTER SCHEMA public OWNER TO ${quoteIdent(owner)}`).catch(() => undefined);
}

export async function dropDatabase(client: ClientBase, name: string): Promise<void> {
  await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
}

/**
 * Makes `token` the role's password until `validUntil` (real time: Postgres checks it against its
 * own clock; the proxy checks the emulator's). A newer credential replaces the older one.
 */
export async function setTokenPassword(client: ClientBase, role: string, token: string, validUntil: Date): Promise<void> {
  await client.query(`ALTER ROLE ${quoteIdent(role)} PASSWORD ${quoteLiteral(token)} VALID UNTIL ${quoteLiteral(validUntil.toISOString())}`);
}

/**
 * A synced table's Postgres table. There is no Delta source to read columns from, so it has the
 * primary key columns (text), the timeseries key (if any, text) and `_synced_at`, the time a row
 * was written.
 */
export async function createSyncedTable(
  client: ClientBase,
  table: { schema: string; table: string; primaryKey: readonly string[]; timeseriesKey?: string; owner?: string; createSchema: boolean },
): Promise<void> {
  const schema = quoteIdent(table.schema);
  const exists = ((await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [table.schema])).rowCount ?? 0) > 0;
  if (!exists) {
    if (!table.createSchema) throw Object.assign(new Error(`schema "${table.schema}" does not exist`), { code: '3F000' });
    await client.query(`CREATE SCHEMA ${schema}${table.owner ? ` AUTHORIZATION ${quoteIdent(table.owner)}` : ''}`);
  }
  const columns = [...table.primaryKey, ...(table.timeseriesKey && !table.primaryKey.includes(table.timeseriesKey) ? [table.timeseriesKey] : [])];
  const name = `${schema}.${quoteIdent(table.table)}`;
  await client.query(
    `CREATE TABLE ${name} (${columns.map((c) => `${quoteIdent(c)} text${table.primaryKey.includes(c) ? ' NOT NULL' : ''}`).join(', ')},
       _synced_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (${table.primaryKey.map(quoteIdent).join(', ')}))`,
  );
  await client.query(`COMMENT ON TABLE ${name} IS ${quoteLiteral('Lakebase synced table (pgstacks sandbox: no Delta source, no rows synced)')}`);
  if (table.owner) await client.query(`ALTER TABLE ${name} OWNER TO ${quoteIdent(table.owner)}`);
}

export async function dropSyncedTable(client: ClientBase, schema: string, table: string): Promise<void> {
  await client.query(`DROP TABLE IF EXISTS ${quoteIdent(schema)}.${quoteIdent(table)}`);
}
