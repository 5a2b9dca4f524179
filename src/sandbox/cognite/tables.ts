/**
 * Gateway tables (`/projects/{p}/postgresgateway/tables/{username}`): raw tables (`raw_rows`, a
 * RAW table seen through declared columns) and view tables (a data-model view), created as real
 * tables in the user's database. There is no update: a change is delete + create.
 */
import { HttpError, type RequestContext, type Route } from '../http';
import type { PostgresServer } from '../postgres';
import type { CogniteAuth } from './auth';
import { findUsers, unknownUsers } from './users';
import { COLUMN_TYPES, VIEW_TABLE_COLUMNS, VIEW_TABLE_KEY, createTables, dropTables, type ColumnType, type TableDefinition } from './userdb';
import { booleanFlag, decodeCursor, gatewayInput as input, page, type JsonObject } from './validate';

type Columns = Record<string, { type: string }>;

/**
 * Built-in tables, with the columns the 2.0 migration notes list for them (VARCHAR(n) is reported
 * as VARCHAR, the nearest ColumnType). The real set is presumably larger; these names are reserved.
 */
const BUILT_INS: Record<string, Columns> = Object.fromEntries(
  Object.entries({
    assets: { created_time: 'TIMESTAMPTZ', last_updated_time: 'TIMESTAMPTZ' },
    events: { created_time: 'TIMESTAMPTZ', last_updated_time: 'TIMESTAMPTZ' },
    extraction_pipeline_runs: { id: 'BIGINT' },
    extraction_pipelines: { contacts: 'JSON', raw_tables: 'JSON', documentation: 'VARCHAR', last_updated_time: 'TIMESTAMPTZ', created_by: 'VARCHAR' },
    files: {
      directory: 'VARCHAR', asset_ids: 'BIGINT[]', source_created_time: 'TIMESTAMPTZ', source_modified_time: 'TIMESTAMPTZ',
      security_categories: 'BIGINT[]', created_time: 'TIMESTAMPTZ', last_updated_time: 'TIMESTAMPTZ',
    },
    labels: { data_set_id: 'BIGINT[]', created_time: 'TIMESTAMPTZ' },
    sequences: { created_time: 'TIMESTAMPTZ' },
    sequence_rows: { values: 'JSON' },
    string_datapoints: { value: 'VARCHAR', timestamp: 'TIMESTAMPTZ', external_id: 'VARCHAR', id: 'BIGINT' },
    double_datapoints: { value: 'DOUBLE PRECISION', timestamp: 'TIMESTAMPTZ', external_id: 'VARCHAR', id: 'BIGINT' },
    raw_rows: { _raw_database: 'VARCHAR', _raw_table: 'VARCHAR', _raw_key: 'TEXT', _raw_columns: 'JSON', _raw_last_updated_time: 'TIMESTAMPTZ' },
    raw_tables: { _raw_database: 'VARCHAR', _raw_table: 'VARCHAR' },
  }).map(([name, columns]) => [name, Object.fromEntries(Object.entries(columns).map(([c, type]) => [c, { type }]))]),
);

interface TableRow {
  username: string;
  tablename: string;
  type: 'raw_rows' | 'view';
  options: JsonObject;
  columns: Columns;
  created_time: string;
}

/** A valid create item. */
interface NewTable {
  readonly type: 'raw_rows' | 'view';
  readonly tablename: string;
  readonly options: JsonObject;
  readonly columns: Columns;
}

/** The `Table` form of list and retrieve (no createdTime). View tables keep type `view`. */
function tableItem(row: Pick<TableRow, 'tablename' | 'type' | 'options' | 'columns'>): Record<string, unknown> {
  return { tablename: row.tablename, type: row.type, options: row.options, columns: row.columns };
}

function builtInItem(tablename: string): Record<string, unknown> {
  return { tablename, type: 'built_in', columns: BUILT_INS[tablename] };
}

function isBuiltIn(tablename: string): boolean {
  return Object.prototype.hasOwnProperty.call(BUILT_INS, tablename);
}

function validateTable(item: unknown, loc: string): NewTable {
  const obj = input.object(item, loc);
  const type = input.oneOf(input.required(obj, 'type', loc), ['raw_rows', 'view'] as const, `${loc}.type`);
  input.only(obj, type === 'raw_rows' ? ['type', 'tablename', 'options', 'columns'] : ['type', 'tablename', 'options']);
  const tablename = input.string(input.required(obj, 'tablename', loc), `${loc}.tablename`, 1, 60);
  if (isBuiltIn(tablename)) input.fail(`Table name '${tablename}' is reserved for a built-in table: ${loc}.tablename`);
  const options = input.object(input.required(obj, 'options', loc), `${loc}.options`);
  if (type === 'view') {
    input.only(options, ['space', 'externalId', 'version']);
    input.string(input.required(options, 'space', `${loc}.options`), `${loc}.options.space`, 1);
    input.string(input.required(options, 'externalId', `${loc}.options`), `${loc}.options.externalId`, 1);
    if (options.version !== undefined) input.string(options.version, `${loc}.options.version`, 1);
    return { type, tablename, options, columns: {} };
  }
  input.only(options, ['database', 'table', 'primaryKey']);
  // RAW's own limits (the built-in raw_rows table declares VARCHAR(32) and VARCHAR(64)).
  input.string(input.required(options, 'database', `${loc}.options`), `${loc}.options.database`, 1, 32);
  input.string(input.required(options, 'table', `${loc}.options`), `${loc}.options.table`, 1, 64);
  const primaryKey = options.primaryKey === undefined ? undefined : input.string(options.primaryKey, `${loc}.options.primaryKey`, 1);
  const columnsIn = input.object(input.required(obj, 'columns', loc), `${loc}.columns`);
  if (Object.keys(columnsIn).length === 0) input.fail(`Dictionary should have at least 1 item after validation, not 0: ${loc}.columns`);
  const columns: Columns = {};
  for (const [name, spec] of Object.entries(columnsIn)) {
    const at = `${loc}.columns.${name}`;
    // Postgres identifiers hold at most 63 bytes; longer names would be truncated silently.
    if (name.length === 0 || Buffer.byteLength(name) > 63) input.fail(`Column names must be 1-63 bytes long: ${at}`);
    const column = input.object(spec, at);
    input.only(column, ['type']);
    columns[name] = { type: input.oneOf(input.required(column, 'type', at), COLUMN_TYPES, `${at}.type`) };
  }
  if (primaryKey !== undefined && !(primaryKey in columns)) input.fail(`primaryKey '${primaryKey}' is not one of the columns: ${loc}.options.primaryKey`);
  return { type, tablename, options, columns };
}

function definition(table: NewTable): TableDefinition {
  if (table.type === 'view') {
    const { space, externalId, version } = table.options as { space: string; externalId: string; version?: string };
    return { tablename: table.tablename, columns: VIEW_TABLE_COLUMNS, key: VIEW_TABLE_KEY, comment: `CDF view ${space}:${externalId}${version ? `/${version}` : ''}` };
  }
  const { database, table: raw, primaryKey } = table.options as { database: string; table: string; primaryKey?: string };
  return {
    tablename: table.tablename,
    columns: Object.entries(table.columns).map(([name, c]) => [name, c.type as ColumnType] as const),
    key: primaryKey ? [primaryKey] : [],
    comment: `CDF RAW ${database}/${raw}`,
  };
}

export function tableRoutes(pg: PostgresServer, auth: CogniteAuth): Route[] {
  const base = '/api/v1/projects/:project/postgresgateway/tables/:username';

  /** Checks the capability for the user in the path and that the user exists in the project. */
  async function owner(ctx: RequestContext, action: 'READ' | 'WRITE'): Promise<{ project: string; username: string }> {
    const project = ctx.params.project!;
    const username = ctx.params.username!;
    await auth.authorizeFor(ctx, project, 'postgresGatewayAcl', action, { username });
    return { project, username };
  }

  async function requireUser(project: string, username: string): Promise<void> {
    const { missing } = await findUsers(pg, project, [username]);
    if (missing.length > 0) throw unknownUsers(missing);
  }

  async function tablesOf(username: string, names?: readonly string[]): Promise<TableRow[]> {
    const result = await pg.state.query(
      'SELECT * FROM cognite.gateway_tables WHERE username = $1 AND ($2::text[] IS NULL OR tablename = ANY($2)) ORDER BY tablename',
      [username, names ?? null],
    );
    return result.rows as TableRow[];
  }

  /** `{items: [{tablename}], ignoreUnknownIds?}` with 1-10 items. */
  async function tablenames(ctx: RequestContext): Promise<{ names: string[]; ignore: boolean }> {
    const body = input.body(await ctx.json());
    input.only(body, ['items', 'ignoreUnknownIds']);
    const ignore = body.ignoreUnknownIds === undefined ? false : input.boolean(body.ignoreUnknownIds, 'ignoreUnknownIds');
    const names = input.items(body, 1, 10).map((item, i) => {
      const obj = input.object(item, `items.${i}`);
      input.only(obj, ['tablename']);
      return input.string(input.required(obj, 'tablename', `items.${i}`), `items.${i}.tablename`, 1);
    });
    return { names, ignore };
  }

  function unknownTables(names: readonly string[]): HttpError {
    return new HttpError(404, `Tables not found: ${names.join(', ')}`, { missing: names.map((tablename) => ({ tablename })) });
  }

  return [
    {
      method: 'POST',
      path: base,
      async handler(ctx) {
        const { project, username } = await owner(ctx, 'WRITE');
        const body = input.body(await ctx.json());
        input.only(body, ['items']);
        const tables = input.items(body, 1, 10).map((item, i) => validateTable(item, `items.${i}`));
        await requireUser(project, username);

        const names = tables.map((t) => t.tablename);
        const repeated = names.filter((name, i) => names.indexOf(name) !== i);
        const existing = (await tablesOf(username, names)).map((t) => t.tablename);
        const duplicated = [...new Set([...existing, ...repeated])];
        // Unverified whether CDF answers 409 or 400; 409 with `duplicated` is CDF's usual form.
        if (duplicated.length > 0) throw new HttpError(409, `Tables already exist: ${duplicated.join(', ')}`, { duplicated: duplicated.map((tablename) => ({ tablename })) });

        const now = Date.now();
        await pg.transaction(async (tx) => {
          for (const t of tables) {
            const raw = t.type === 'raw_rows' ? (t.options as { database: string; table: string }) : undefined;
            await tx.query(
              `INSERT INTO cognite.gateway_tables (username, tablename, type, options, columns, created_time, raw_database, raw_table)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
              [username, t.tablename, t.type, JSON.stringify(t.options), JSON.stringify(t.columns), now, raw?.database ?? null, raw?.table ?? null],
            );
            if (raw) {
              // The RAW database and table come into existence with the first table that maps to them.
              await tx.query('INSERT INTO cognite.raw_dbs (project, name, created_time) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [project, raw.database, now]);
              await tx.query('INSERT INTO cognite.raw_tables (project, db, name, created_time) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [project, raw.database, raw.table, now]);
            }
          }
          await createTables(pg, username, tables.map(definition));
        }).catch((error: unknown) => {
          // A concurrent create of the same name loses the race on the primary key.
          if ((error as { code?: string }).code === '23505') throw new HttpError(409, 'Tables already exist', { duplicated: names.map((tablename) => ({ tablename })) });
          throw error;
        });
        return { items: tables.map((t) => ({ tablename: t.tablename, type: t.type, createdTime: now, options: t.options, columns: t.columns })) };
      },
    },
    {
      method: 'GET',
      path: base,
      async handler(ctx) {
        const { project, username } = await owner(ctx, 'READ');
        // As for users: limit 1-100, larger values clamped (unverified).
        const limit = ctx.query.has('limit') ? Math.min(input.integer(ctx.query.get('limit'), 'limit', 1), 100) : 100;
        const includeBuiltIns = booleanFlag(ctx.query.get('includeBuiltIns'), 'includeBuiltIns', false);
        const after = decodeCursor(ctx.query.get('cursor'), 422);
        await requireUser(project, username);
        const items = (await tablesOf(username)).map(tableItem);
        if (includeBuiltIns) items.push(...Object.keys(BUILT_INS).map(builtInItem));
        items.sort((a, b) => compare(a.tablename as string, b.tablename as string));
        return page(items, (item) => item.tablename as string, limit, after);
      },
    },
    {
      method: 'POST',
      path: `${base}/byids`,
      async handler(ctx) {
        const { project, username } = await owner(ctx, 'READ');
        const { names, ignore } = await tablenames(ctx);
        await requireUser(project, username);
        const rows = await tablesOf(username, names);
        const items = names.flatMap((name) => {
          const row = rows.find((r) => r.tablename === name);
          return row ? [tableItem(row)] : isBuiltIn(name) ? [builtInItem(name)] : [];
        });
        const missing = names.filter((name) => !isBuiltIn(name) && !rows.some((r) => r.tablename === name));
        if (missing.length > 0 && !ignore) throw unknownTables(missing);
        return { items };
      },
    },
    {
      method: 'POST',
      path: `${base}/delete`,
      async handler(ctx) {
        const { project, username } = await owner(ctx, 'WRITE');
        const { names, ignore } = await tablenames(ctx);
        await requireUser(project, username);
        await pg.transaction(async (tx) => {
          const deleted = await tx.query('DELETE FROM cognite.gateway_tables WHERE username = $1 AND tablename = ANY($2) RETURNING tablename', [username, names]);
          const gone = (deleted.rows as { tablename: string }[]).map((r) => r.tablename);
          const missing = names.filter((name) => !gone.includes(name));
          // Built-in tables cannot be deleted; they count as unknown here.
          if (missing.length > 0 && !ignore) throw unknownTables(missing);
          await dropTables(pg, username, gone);
        });
        return {};
      },
    },
  ];
}

/** Code-unit order, the same order cursors compare in. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
