/**
 * What a gateway user is inside Postgres: a LOGIN role with a database of the same name (as with
 * the real gateway, `psql -U <username> -d <username>`), owned by the sandbox's superuser so the
 * role can use the tables the API creates there but create none itself.
 *
 * Gateway tables are plain tables with exactly the declared columns. CDF RAW is key -> row, so a
 * BEFORE trigger makes a write replace the row that has the same key, and the RAW endpoints read
 * the rows back (lastUpdatedTime from the commit timestamp of the row's transaction).
 */
import type { Client } from 'pg';
import { quoteIdent, quoteLiteral, type PostgresServer } from '../postgres';

/** The gateway's 16 column types; each is the Postgres type of the same name. */
export const COLUMN_TYPES = [
  'TEXT', 'VARCHAR', 'BOOL', 'BIGINT', 'DOUBLE PRECISION', 'REAL', 'TIMESTAMPTZ', 'JSON',
  'TEXT[]', 'VARCHAR[]', 'BOOL[]', 'BIGINT[]', 'DOUBLE PRECISION[]', 'REAL[]', 'JSON[]', 'BYTEA',
] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

/**
 * A view (data-model) table has no declared columns. The sandbox has no data model to read them
 * from, so it gives every view table the same generic ones, keyed like instances by
 * (space, external_id).
 */
export const VIEW_TABLE_COLUMNS: ReadonlyArray<readonly [string, ColumnType]> = [
  ['space', 'TEXT'],
  ['external_id', 'TEXT'],
  ['properties', 'JSON'],
];
export const VIEW_TABLE_KEY = ['space', 'external_id'];

export interface TableDefinition {
  readonly tablename: string;
  readonly columns: ReadonlyArray<readonly [string, ColumnType]>;
  /** Columns whose values make the row's key; empty = the whole row is the key. */
  readonly key: readonly string[];
  readonly comment: string;
}

/**
 * Deletes the row with the new row's key before a write, so a table behaves like a RAW table.
 * Trigger arguments are the key columns; with none, identical rows are the same row.
 */
const REPLACE_SAME_KEY = `
CREATE FUNCTION pgstacks.replace_same_key() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  cond text := '';
  is_null boolean;
  unchanged boolean := true;
  same boolean;
BEGIN
  IF TG_NARGS = 0 THEN
    -- Skip rows equal to OLD: an UPDATE must not delete the row it is updating.
    EXECUTE format('DELETE FROM %I.%I t WHERE row_to_json(t)::text = row_to_json($1)::text'
                   || CASE WHEN TG_OP = 'UPDATE' THEN ' AND row_to_json(t)::text <> row_to_json($2)::text' ELSE '' END,
                   TG_TABLE_SCHEMA, TG_TABLE_NAME)
      USING NEW, OLD;
    RETURN NEW;
  END IF;
  FOR i IN 0 .. TG_NARGS - 1 LOOP
    EXECUTE format('SELECT ($1).%I IS NULL', TG_ARGV[i]) INTO is_null USING NEW;
    IF is_null THEN
      RAISE EXCEPTION 'the key column "%" of table "%" must not be null', TG_ARGV[i], TG_TABLE_NAME
        USING ERRCODE = 'not_null_violation';
    END IF;
    IF TG_OP = 'UPDATE' THEN
      EXECUTE format('SELECT ($1).%1$I::text IS NOT DISTINCT FROM ($2).%1$I::text', TG_ARGV[i]) INTO same USING NEW, OLD;
      unchanged := unchanged AND same;
    END IF;
    cond := cond || format(' AND t.%1$I::text = ($1).%1$I::text', TG_ARGV[i]);
  END LOOP;
  IF TG_OP = 'UPDATE' AND unchanged THEN
    RETURN NEW;
  END IF;
  EXECUTE format('DELETE FROM %I.%I t WHERE true', TG_TABLE_SCHEMA, TG_TABLE_NAME) || cond USING NEW;
  RETURN NEW;
END
$fn$;
`;

/** Creates the login role and its database; undoes both if any step fails. */
export async function createGatewayLogin(pg: PostgresServer, username: string, password: string): Promise<void> {
  const role = quoteIdent(username);
  await pg.state.query(
    `CREATE ROLE ${role} LOGIN PASSWORD ${quoteLiteral(password)} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`,
  );
  try {
    await pg.createIsolatedDatabase(username, async (client) => {
      await client.query(`GRANT CONNECT ON DATABASE ${role} TO ${role}`);
      await client.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
      // The sandbox's helpers live where the role cannot see them.
      await client.query('CREATE SCHEMA pgstacks; REVOKE ALL ON SCHEMA pgstacks FROM PUBLIC');
      await client.query(REPLACE_SAME_KEY);
    });
  } catch (error) {
    await dropGatewayLogin(pg, username).catch(() => undefined);
    throw error;
  }
}

/** Drops the user's database (and so its tables) and its role; missing ones are fine. */
export async function dropGatewayLogin(pg: PostgresServer, username: string): Promise<void> {
  await pg.dropDatabase(username);
  await pg.state.query(`DROP ROLE IF EXISTS ${quoteIdent(username)}`);
}

/** Creates tables in the user's database, all or none. */
export async function createTables(pg: PostgresServer, username: string, tables: readonly TableDefinition[]): Promise<void> {
  await inTransaction(pg, username, async (client) => {
    for (const table of tables) {
      const name = `public.${quoteIdent(table.tablename)}`;
      const columns = table.columns.map(([column, type]) => `${quoteIdent(column)} ${type}`).join(', ');
      await client.query(`CREATE TABLE ${name} (${columns})`);
      await client.query(`COMMENT ON TABLE ${name} IS ${quoteLiteral(table.comment)}`);
      await client.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${name} TO ${quoteIdent(username)}`);
      const args = table.key.map(quoteLiteral).join(', ');
      await client.query(`CREATE TRIGGER pgstacks_replace_same_key BEFORE INSERT OR UPDATE ON ${name} FOR EACH ROW EXECUTE FUNCTION pgstacks.replace_same_key(${args})`);
    }
  });
}

export async function dropTables(pg: PostgresServer, username: string, tablenames: readonly string[]): Promise<void> {
  await inTransaction(pg, username, async (client) => {
    for (const tablename of tablenames) await client.query(`DROP TABLE IF EXISTS public.${quoteIdent(tablename)}`);
  });
}

export interface RawRow {
  readonly key: string;
  readonly columns: Record<string, unknown>;
  readonly lastUpdatedTime: number;
}

/**
 * A gateway raw table's rows as RAW rows: key = the primary key column's value (as text), or for a
 * table without one, the MD5 of the whole row; columns = the other columns.
 */
export async function readRawRows(pg: PostgresServer, username: string, tablename: string, primaryKey: string | undefined, fallbackTime: number): Promise<RawRow[]> {
  const key = primaryKey ? `t.${quoteIdent(primaryKey)}::text` : 'md5(row_to_json(t)::text)';
  const result = await pg.withDatabase(username, (client) =>
    client.query(
      `SELECT ${key} AS key, row_to_json(t)::text AS row,
              (extract(epoch FROM pg_xact_commit_timestamp(t.xmin)) * 1000)::bigint AS updated
         FROM public.${quoteIdent(tablename)} t`,
    ),
  );
  return result.rows.map((r: { key: string; row: string; updated: string | null }) => {
    const columns = JSON.parse(r.row) as Record<string, unknown>;
    if (primaryKey) delete columns[primaryKey];
    return { key: r.key, columns, lastUpdatedTime: r.updated === null ? fallbackTime : Number(r.updated) };
  });
}

async function inTransaction(pg: PostgresServer, database: string, fn: (client: Client) => Promise<void>): Promise<void> {
  await pg.withDatabase(database, async (client) => {
    await client.query('BEGIN');
    try {
      await fn(client);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });
}
