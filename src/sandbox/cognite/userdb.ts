/**
 * What a gateway user is inside Postgres: a LOGIN role with a database of the same name (as with
 * the real gateway, `psql -U <username> -d <username>`), owned by the sandbox's superuser so the
 * role can use the tables the API creates there but create none itself.
 *
 * A gateway raw table is a partitioned table whose one partition is a foreign table (postgres_fdw)
 * over the table's view in the RAW store (raw-store.ts): it is listed in `pg_tables`, the user
 * reads and writes it like any table (`INSERT 0 1`), and its rows live in RAW. A view table has no
 * RAW behind it, so it is a plain table whose writes replace the row with the same key.
 */
import { randomBytes } from 'node:crypto';
import type { ClientBase as Client, PoolClient } from 'pg';
import { quoteIdent, quoteLiteral, STATE_DATABASE, type PostgresServer } from '../postgres';
import { rawViewOf, type BridgeLogin } from './raw-store';

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
  /** `raw`: rows live in RAW; `local`: a plain table keyed by `key` (empty = the whole row). */
  readonly storage: { readonly kind: 'raw' } | { readonly kind: 'local'; readonly key: readonly string[] };
  readonly comment: string;
}

/** How a gateway database reaches the RAW store: the state database's port and the bridge login. */
export interface RawBridge extends BridgeLogin {
  readonly port: number;
}

/** The foreign server, in each gateway database, that points at the RAW store. */
const RAW_SERVER = 'pgstacks_raw';

/**
 * Deletes the row with the new row's key before a write, so a local table behaves like a keyed
 * store. Trigger arguments are the key columns; with none, identical rows are the same row.
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

/** Lowercase, starts with a letter (a plain Postgres identifier), ~119 bits of randomness. */
export function newUsername(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return `u${[...randomBytes(23)].map((b) => alphabet[b % 36]).join('')}`;
}

/**
 * Creates a gateway user's login role and database (a spare one, when one is ready) under a new
 * username, and returns the username; undoes both if any step fails.
 */
export async function createGatewayLogin(pg: PostgresServer, password: string, bridge: RawBridge, spares?: SpareDatabases): Promise<string> {
  const spare = spares?.take();
  const username = spare?.name ?? newUsername();
  const role = quoteIdent(username);
  let client = spare?.client;
  try {
    await pg.state.query(
      `CREATE ROLE ${role} LOGIN PASSWORD ${quoteLiteral(password)} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
       DELETE FROM cognite.spare_databases WHERE name = ${quoteLiteral(username)}`,
    );
    if (!client) {
      await pg.createIsolatedDatabase(username, (c) => prepareGatewayDatabase(c, bridge));
      client = await pg.connect(username);
    }
    // The database already points at RAW (prepareGatewayDatabase): one round trip finishes it.
    await client.query(`GRANT CONNECT ON DATABASE ${role} TO ${role}; GRANT USAGE ON SCHEMA public TO ${role}; ${userMapping(username, bridge)}`);
    client.release();
  } catch (error) {
    client?.release(true);
    await dropGatewayLogin(pg, username).catch(() => undefined);
    throw error;
  }
  return username;
}

/** What a gateway database holds before its user is known. */
async function prepareGatewayDatabase(client: Client, bridge: RawBridge): Promise<void> {
  // The sandbox's helpers live where the role cannot see them.
  await client.query('CREATE SCHEMA pgstacks; REVOKE ALL ON SCHEMA pgstacks FROM PUBLIC');
  await client.query(REPLACE_SAME_KEY);
  await pointAtRaw(client, bridge);
}

/** Databases made before a spare is taken wait this long after the last take (or the start), so they are made when the sandbox is quiet. */
const SPARE_QUIET_MS = 1_000;
/** What spares were called before they were named after their future users. */
const LEGACY_SPARE_PATTERN = 'pgstacks\\_spare\\_%';

/** A gateway database made ahead of time, named after the user it will belong to, with its connection open. */
export interface SpareDatabase {
  readonly name: string;
  readonly client: PoolClient;
}

/**
 * Gateway databases made ahead of time. CREATE DATABASE is most of the cost of a user create
 * (100 ms and more on a busy machine), and a new connection ~6 ms of CPU; so the sandbox keeps a
 * few databases ready, each already named with a fresh username and with its connection open,
 * and a create takes one. `cognite.spare_databases` lists them, so a restart drops those left.
 */
export class SpareDatabases {
  private readonly ready: Array<SpareDatabase & { readonly onError: () => void }> = [];
  private filling?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private cleaned = false;

  constructor(
    private readonly pg: PostgresServer,
    private readonly bridge: RawBridge,
    private readonly count = 2,
  ) {}

  /** A prepared database, if one is ready; the caller releases its connection. */
  take(): SpareDatabase | undefined {
    const spare = this.ready.shift();
    this.fillLater();
    if (!spare) return undefined;
    spare.client.off('error', spare.onError);
    return { name: spare.name, client: spare.client };
  }

  /** Makes spares up to `count` once the sandbox has been quiet for a while. */
  fillLater(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.fill(), SPARE_QUIET_MS);
    this.timer.unref();
  }

  /** Waits for a spare being made, makes no more, and closes the connections of those ready (a restart drops them). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.filling;
    this.ready.splice(0).forEach(closeSpare);
  }

  private fill(): Promise<void> {
    this.filling ??= (async () => {
      if (!this.cleaned) {
        // An earlier run's spares may be half made: start over.
        const left = await this.pg.state.query(
          `SELECT name FROM cognite.spare_databases UNION SELECT datname FROM pg_database WHERE datname LIKE '${LEGACY_SPARE_PATTERN}'`,
        );
        for (const { name } of left.rows as { name: string }[]) {
          await this.pg.dropDatabase(name);
          await this.pg.state.query('DELETE FROM cognite.spare_databases WHERE name = $1', [name]);
        }
        this.cleaned = true;
      }
      while (!this.stopped && this.ready.length < this.count) {
        const name = newUsername();
        await this.pg.state.query('INSERT INTO cognite.spare_databases (name) VALUES ($1)', [name]);
        await this.pg.createIsolatedDatabase(name, (client) => prepareGatewayDatabase(client, this.bridge));
        const client = await this.pg.connect(name);
        // A connection lost while it waits makes the spare useless: forget it (the restart drops it).
        const onError = () => {
          const i = this.ready.findIndex((spare) => spare.client === client);
          if (i >= 0) this.ready.splice(i, 1).forEach(closeSpare);
        };
        client.on('error', onError);
        this.ready.push({ name, client, onError });
      }
    })()
      .catch((error: unknown) => {
        // Without spares, user creates make their own databases.
        if (!this.stopped) process.stderr.write(`sandbox: could not prepare a gateway database: ${error instanceof Error ? error.message : String(error)}\n`);
      })
      .finally(() => {
        this.filling = undefined;
      });
    return this.filling;
  }
}

/** Closes a spare's connection; from then on its pool handles the connection's errors. */
function closeSpare(spare: SpareDatabase & { readonly onError: () => void }): void {
  spare.client.off('error', spare.onError);
  spare.client.release(true);
}

/**
 * Points a gateway database at the RAW store (idempotent): the postgres_fdw server, at the state
 * database's current port, and the user's mapping to the bridge login. The user gets no USAGE on
 * the server, so it can neither read the mapping's password nor make foreign tables of its own.
 */
export async function connectToRaw(client: Client, username: string, bridge: RawBridge): Promise<void> {
  await pointAtRaw(client, bridge);
  await client.query(userMapping(username, bridge));
}

function userMapping(username: string, bridge: RawBridge): string {
  return `CREATE USER MAPPING IF NOT EXISTS FOR ${quoteIdent(username)} SERVER ${RAW_SERVER} OPTIONS (user ${quoteLiteral(bridge.user)}, password ${quoteLiteral(bridge.password)})`;
}

/** The postgres_fdw server, at the state database's current port (a sandbox on port 0 gets a new one at each start). */
async function pointAtRaw(client: Client, bridge: RawBridge): Promise<void> {
  await client.query('CREATE EXTENSION IF NOT EXISTS postgres_fdw SCHEMA pgstacks');
  const port = quoteLiteral(String(bridge.port));
  const exists = (await client.query('SELECT 1 FROM pg_foreign_server WHERE srvname = $1', [RAW_SERVER])).rowCount !== 0;
  if (exists) await client.query(`ALTER SERVER ${RAW_SERVER} OPTIONS (SET port ${port})`);
  else await client.query(`CREATE SERVER ${RAW_SERVER} FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port ${port}, dbname ${quoteLiteral(STATE_DATABASE)})`);
}

/** Drops the user's database (and so its tables) and its role; missing ones are fine. */
export async function dropGatewayLogin(pg: PostgresServer, username: string): Promise<void> {
  await pg.dropDatabase(username);
  await pg.state.query(`DROP ROLE IF EXISTS ${quoteIdent(username)}`);
}

/**
 * Creates tables in the user's database, all or none: one multi-statement query, which
 * PostgreSQL runs as one transaction (and one round trip, which is most of the cost).
 * Raw tables' RAW views must exist (or be made in the same commit).
 */
export async function createTables(pg: PostgresServer, username: string, tables: readonly TableDefinition[]): Promise<void> {
  const statements = tables.flatMap((table) => {
    const name = `public.${quoteIdent(table.tablename)}`;
    const columns = table.columns.map(([column, type]) => `${quoteIdent(column)} ${type}`).join(', ');
    const common = [`COMMENT ON TABLE ${name} IS ${quoteLiteral(table.comment)}`, `GRANT SELECT, INSERT, UPDATE, DELETE ON ${name} TO ${quoteIdent(username)}`];
    if (table.storage.kind === 'raw') {
      const view = rawViewOf(username, table.tablename);
      return [
        // One catch-all partition; the partition key only has to be valid for any column type.
        `CREATE TABLE ${name} (${columns}) PARTITION BY LIST ((${quoteIdent(table.columns[0]![0])} IS NULL))`,
        `CREATE FOREIGN TABLE pgstacks.${quoteIdent(view.name)} PARTITION OF ${name} DEFAULT
           SERVER ${RAW_SERVER} OPTIONS (schema_name ${quoteLiteral(view.schema)}, table_name ${quoteLiteral(view.name)})`,
        ...common,
      ];
    }
    const args = table.storage.key.map(quoteLiteral).join(', ');
    return [
      `CREATE TABLE ${name} (${columns})`,
      `CREATE TRIGGER pgstacks_replace_same_key BEFORE INSERT OR UPDATE ON ${name} FOR EACH ROW EXECUTE FUNCTION pgstacks.replace_same_key(${args})`,
      ...common,
    ];
  });
  await pg.withDatabase(username, (client) => client.query(statements.join(';\n')));
}

/** Drops tables (a raw table's foreign partition goes with it; its RAW rows stay), all or none. */
export async function dropTables(pg: PostgresServer, username: string, tablenames: readonly string[]): Promise<void> {
  if (tablenames.length === 0) return;
  await pg.withDatabase(username, (client) => client.query(tablenames.map((t) => `DROP TABLE IF EXISTS public.${quoteIdent(t)}`).join(';\n')));
}

/**
 * Re-points every gateway database at the RAW store when the state database's port changed since
 * the last start (a sandbox on port 0 gets a new one each time); a no-op otherwise.
 */
export async function reconnectGatewaysToRaw(pg: PostgresServer, bridge: RawBridge): Promise<void> {
  const recorded = await pg.state.query("SELECT value FROM cognite.settings WHERE name = 'raw_bridge_port'");
  if (recorded.rows[0]?.value === String(bridge.port)) return;
  const users = await pg.state.query('SELECT username FROM cognite.gateway_users ORDER BY username');
  for (const { username } of users.rows as { username: string }[]) {
    // One broken user (say, its database dropped by hand) must not keep the sandbox from starting.
    await pg.withDatabase(username, (client) => connectToRaw(client, username, bridge)).catch((error: unknown) => {
      process.stderr.write(`sandbox: gateway user ${username} cannot reach RAW: ${error instanceof Error ? error.message : String(error)}\n`);
    });
  }
  await pg.state.query(
    "INSERT INTO cognite.settings (name, value) VALUES ('raw_bridge_port', $1) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
    [String(bridge.port)],
  );
}
