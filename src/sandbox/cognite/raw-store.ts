/**
 * CDF RAW's storage, independent of the gateway: rows live in `cognite_raw.rows` of the state
 * database, keyed by (project, database, table, key), and outlive the gateway tables that wrote
 * them, as in CDF, where dropping a gateway table keeps its RAW rows.
 *
 * A gateway raw table reaches RAW through a per-table view here (`cognite_raw.gt_<hash>`): it
 * shows the RAW table's rows with the gateway table's typed columns, and an INSTEAD OF trigger
 * turns writes into RAW row upserts. The gateway user's database sees that view as a foreign
 * table (postgres_fdw) connecting as the bridge role, which may use those views and nothing else.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { PoolClient } from 'pg';
import { quoteIdent, quoteLiteral, STATE_DATABASE, type PostgresServer } from '../postgres';
import type { ColumnType } from './userdb';

/** The login that gateway databases use to reach RAW. */
export const BRIDGE_ROLE = 'pgstacks_raw_bridge';
const SCHEMA = 'cognite_raw';

/**
 * Writes one row of a gateway table view into RAW. Arguments: project, database, table, primary
 * key column ('' for none). A row's key is its primary key as text, or without one the MD5 of its
 * content (so identical rows are one row); its columns are the others. INSERT replaces the RAW row
 * with that key; UPDATE merges into the row it read (keeping columns the gateway table does not
 * declare), moving it if the key changed; DELETE deletes it.
 */
const WRITE_ROW = `
CREATE OR REPLACE FUNCTION ${SCHEMA}.write_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  arg_project text := TG_ARGV[0];
  arg_db text := TG_ARGV[1];
  arg_table text := TG_ARGV[2];
  arg_key_column text := TG_ARGV[3];
  old_columns jsonb;
  new_columns jsonb;
  new_key text;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    -- The view shows each RAW row's ctid, so this is exactly the row the statement read.
    DELETE FROM ${SCHEMA}.rows r
     WHERE r.ctid = OLD.ctid AND r.project = arg_project AND r.db = arg_db AND r.tbl = arg_table
    RETURNING r.columns INTO old_columns;
    IF TG_OP = 'DELETE' THEN
      RETURN OLD;
    END IF;
  END IF;
  new_columns := to_jsonb(NEW) - 'ctid';
  IF arg_key_column <> '' THEN
    EXECUTE format('SELECT ($1).%I::text', arg_key_column) INTO new_key USING NEW;
    IF new_key IS NULL THEN
      RAISE EXCEPTION 'the key column "%" must not be null', arg_key_column USING ERRCODE = 'not_null_violation';
    END IF;
    new_columns := new_columns - arg_key_column;
  ELSE
    new_key := md5(new_columns::text);
  END IF;
  IF TG_OP = 'UPDATE' THEN
    new_columns := coalesce(old_columns, '{}'::jsonb) || new_columns;
  END IF;
  INSERT INTO ${SCHEMA}.rows AS r (project, db, tbl, key, columns, last_updated_time)
  VALUES (arg_project, arg_db, arg_table, new_key, new_columns, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)
  ON CONFLICT (project, db, tbl, key) DO UPDATE SET columns = EXCLUDED.columns, last_updated_time = EXCLUDED.last_updated_time;
  RETURN NEW;
END
$fn$;
`;

/** How gateway databases log in to RAW. */
export interface BridgeLogin {
  readonly user: string;
  readonly password: string;
}

/**
 * Creates the RAW store and the bridge role on first start; returns the bridge's login. The
 * password is kept in `cognite.settings`, so the user mappings made with it stay valid.
 */
export async function migrateRawStore(pg: PostgresServer): Promise<BridgeLogin> {
  await pg.state.query(`
    CREATE SCHEMA IF NOT EXISTS ${SCHEMA};
    REVOKE ALL ON SCHEMA ${SCHEMA} FROM PUBLIC;
    CREATE TABLE IF NOT EXISTS ${SCHEMA}.rows (
      project           text NOT NULL,
      db                text NOT NULL,
      tbl               text NOT NULL,
      key               text NOT NULL,
      columns           jsonb NOT NULL,
      last_updated_time bigint NOT NULL,
      PRIMARY KEY (project, db, tbl, key)
    );
    ${WRITE_ROW}
  `);
  const stored = await pg.state.query("SELECT value FROM cognite.settings WHERE name = 'raw_bridge_password'");
  const exists = (await pg.state.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [BRIDGE_ROLE])).rowCount !== 0;
  let password = stored.rows[0]?.value as string | undefined;
  if (!password || !exists) {
    password ??= randomBytes(24).toString('base64url');
    const attributes = `LOGIN PASSWORD ${quoteLiteral(password)} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`;
    await pg.state.query(`${exists ? 'ALTER' : 'CREATE'} ROLE ${quoteIdent(BRIDGE_ROLE)} ${attributes}`);
    await pg.state.query("INSERT INTO cognite.settings (name, value) VALUES ('raw_bridge_password', $1) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value", [password]);
  }
  const bridge = quoteIdent(BRIDGE_ROLE);
  await pg.state.query(`GRANT CONNECT ON DATABASE ${quoteIdent(STATE_DATABASE)} TO ${bridge}`);
  await pg.state.query(`GRANT USAGE ON SCHEMA ${SCHEMA} TO ${bridge}`);
  // The views made from now on are the bridge's to use without a GRANT each (a statement per
  // table create saved); the rows table, made before, stays out of its reach.
  await pg.state.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA ${SCHEMA} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${bridge}`);
  await pg.state.query(`REVOKE ALL ON ${SCHEMA}.rows FROM ${bridge}`);
  return { user: BRIDGE_ROLE, password };
}

/** A gateway raw table as RAW sees it. */
export interface RawMapping {
  readonly username: string;
  readonly tablename: string;
  readonly project: string;
  readonly database: string;
  readonly table: string;
  readonly columns: ReadonlyArray<readonly [string, ColumnType]>;
  readonly primaryKey?: string;
}

/** The name of a gateway table's view in the RAW schema (`{schema, name}`), stable per user and table. */
export function rawViewOf(username: string, tablename: string): { readonly schema: string; readonly name: string } {
  return { schema: SCHEMA, name: `gt_${createHash('md5').update(`${username}/${tablename}`).digest('hex')}` };
}

/**
 * The statements that create the views gateway raw tables read and write RAW through, for the
 * transaction that records the tables (one round trip with it: round trips, not the DDL, are most
 * of a table create's cost). A view is made and dropped in the same transaction as its gateway
 * table, so none exists yet.
 */
export function rawViewStatements(mappings: readonly RawMapping[]): string[] {
  return mappings.flatMap((mapping) => {
    const name = `${SCHEMA}.${quoteIdent(rawViewOf(mapping.username, mapping.tablename).name)}`;
    const others = mapping.columns.filter(([column]) => column !== mapping.primaryKey);
    const shown = mapping.columns.map(([column, type]) => (column === mapping.primaryKey ? `r.key::${type} AS ${quoteIdent(column)}` : `c.${quoteIdent(column)}`));
    const record = others.length ? `CROSS JOIN LATERAL jsonb_to_record(r.columns) AS c(${others.map(([column, type]) => `${quoteIdent(column)} ${type}`).join(', ')})` : '';
    const args = [mapping.project, mapping.database, mapping.table, mapping.primaryKey ?? ''].map(quoteLiteral).join(', ');
    return [
      `CREATE VIEW ${name} AS SELECT r.ctid AS ctid, ${shown.join(', ')} FROM ${SCHEMA}.rows r ${record}
        WHERE r.project = ${quoteLiteral(mapping.project)} AND r.db = ${quoteLiteral(mapping.database)} AND r.tbl = ${quoteLiteral(mapping.table)}`,
      // The bridge may use it through the schema's default privileges (migrateRawStore).
      `CREATE TRIGGER write_raw INSTEAD OF INSERT OR UPDATE OR DELETE ON ${name} FOR EACH ROW EXECUTE FUNCTION ${SCHEMA}.write_row(${args})`,
    ];
  });
}

/** Drops gateway tables' views; their RAW rows stay. */
export async function dropRawViews(tx: PoolClient, username: string, tablenames: readonly string[]): Promise<void> {
  if (tablenames.length === 0) return;
  await tx.query(tablenames.map((tablename) => `DROP VIEW IF EXISTS ${SCHEMA}.${quoteIdent(rawViewOf(username, tablename).name)}`).join(';\n'));
}

export interface RawRow {
  readonly key: string;
  readonly columns: Record<string, unknown>;
  readonly lastUpdatedTime: number;
}

/** Up to `limit` rows of a RAW table with keys after `after`, in key order. */
export async function readRawRows(pg: PostgresServer, project: string, db: string, table: string, after: string | undefined, limit: number): Promise<RawRow[]> {
  const found = await pg.state.query(
    `SELECT key, columns, last_updated_time FROM ${SCHEMA}.rows
      WHERE project = $1 AND db = $2 AND tbl = $3 AND ($4::text IS NULL OR key > $4 COLLATE "C")
      ORDER BY key COLLATE "C" LIMIT $5`,
    [project, db, table, after ?? null, limit],
  );
  return found.rows.map(toRawRow);
}

/** One row of a RAW table, if it exists. */
export async function readRawRow(pg: PostgresServer, project: string, db: string, table: string, key: string): Promise<RawRow | undefined> {
  const found = await pg.state.query(`SELECT key, columns, last_updated_time FROM ${SCHEMA}.rows WHERE project = $1 AND db = $2 AND tbl = $3 AND key = $4`, [project, db, table, key]);
  return found.rows[0] ? toRawRow(found.rows[0]) : undefined;
}

function toRawRow(row: { key: string; columns: Record<string, unknown>; last_updated_time: string }): RawRow {
  return { key: row.key, columns: row.columns, lastUpdatedTime: Number(row.last_updated_time) };
}
