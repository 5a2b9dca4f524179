/**
 * Gateway tables (`/projects/{p}/postgresgateway/tables/{username}`): raw tables, whose rows live
 * in RAW (raw-store.ts), and view tables, created as real tables in the user's database. There is
 * no update: a change is delete + create, and a raw table's RAW rows outlive the delete.
 */
import * as z from 'zod';
import type { Clock } from '../clock';
import { HttpError } from '../errors';
import type { Route } from '../http';
import { quoteLiteral, type PostgresServer } from '../postgres';
import type { CogniteAuth } from './auth';
import { gatewayRoute } from './errors';
import { page } from './paging';
import { dropRawViews, rawViewStatements, type RawMapping } from './raw-store';
import { cursor, flag, integer, items, text } from './schemas';
import { BUILT_INS, createTablesBody, isBuiltIn, type Columns, type NewTable } from './table-schema';
import { findUsers, unknownUsers } from './users';
import { VIEW_TABLE_COLUMNS, VIEW_TABLE_KEY, createTables, dropTables, type ColumnType, type TableDefinition } from './userdb';

interface TableRow {
  username: string;
  tablename: string;
  type: 'raw_rows' | 'view';
  options: Record<string, unknown>;
  columns: Columns;
  created_time: string;
}

const pathParams = z.object({ project: z.string(), username: text(1) });
const namesBody = z.strictObject({
  items: items(z.strictObject({ tablename: text(1) }), 1, 10),
  ignoreUnknownIds: z.boolean().default(false),
});
const listQuery = z.object({
  // As for users: limit 1-100, larger values clamped (unverified).
  limit: integer(1).transform((n) => Math.min(n, 100)).default(100),
  includeBuiltIns: flag(false),
  cursor,
});

/** The `Table` form of list and retrieve (no createdTime). View tables keep type `view`. */
function tableItem(row: Pick<TableRow, 'tablename' | 'type' | 'options' | 'columns'>): Record<string, unknown> {
  return { tablename: row.tablename, type: row.type, options: row.options, columns: row.columns };
}

function builtInItem(tablename: string): Record<string, unknown> {
  return { tablename, type: 'built_in', columns: BUILT_INS[tablename] };
}

function columnsOf(table: NewTable): Columns {
  return table.type === 'raw_rows' ? table.columns : {};
}

function definition(table: NewTable): TableDefinition {
  if (table.type === 'view') {
    const { space, externalId, version } = table.options;
    return { tablename: table.tablename, columns: VIEW_TABLE_COLUMNS, storage: { kind: 'local', key: VIEW_TABLE_KEY }, comment: `CDF view ${space}:${externalId}${version ? `/${version}` : ''}` };
  }
  return { tablename: table.tablename, columns: typedColumns(table.columns), storage: { kind: 'raw' }, comment: `CDF RAW ${table.options.database}/${table.options.table}` };
}

function typedColumns(columns: Columns): Array<readonly [string, ColumnType]> {
  return Object.entries(columns).map(([name, c]) => [name, c.type as ColumnType] as const);
}

function rawMapping(project: string, username: string, table: NewTable & { type: 'raw_rows' }): RawMapping {
  const { database, table: rawTable, primaryKey } = table.options;
  return { username, tablename: table.tablename, project, database, table: rawTable, columns: typedColumns(table.columns), primaryKey };
}

function unknownTables(names: readonly string[]): HttpError {
  return new HttpError(404, `Tables not found: ${names.join(', ')}`, { missing: names.map((tablename) => ({ tablename })) });
}

export function tableRoutes(pg: PostgresServer, auth: CogniteAuth, clock: Clock): Route[] {
  const base = '/api/v1/projects/:project/postgresgateway/tables/:username';
  // The capability must cover the user in the path.
  const read = auth.guard('postgresGatewayAcl', 'READ', (params) => ({ username: params.username! }));
  const write = auth.guard('postgresGatewayAcl', 'WRITE', (params) => ({ username: params.username! }));

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

  return [
    gatewayRoute({
      method: 'POST',
      path: base,
      guard: write,
      params: pathParams,
      body: createTablesBody,
      async handler(_ctx, { guard: { project }, params: { username }, body }) {
        const tables = body.items;
        const names = tables.map((t) => t.tablename);
        // The user and the names it already has, in one round trip (most of a small create's cost).
        const found = await pg.state.query(
          `SELECT EXISTS (SELECT 1 FROM cognite.gateway_users WHERE project = $1 AND username = $2) AS user_exists,
                  ARRAY(SELECT tablename FROM cognite.gateway_tables WHERE username = $2 AND tablename = ANY($3)) AS existing`,
          [project, username, names],
        );
        const { user_exists: userExists, existing } = found.rows[0] as { user_exists: boolean; existing: string[] };
        if (!userExists) throw unknownUsers([username]);
        const repeated = names.filter((name, i) => names.indexOf(name) !== i);
        const duplicated = [...new Set([...existing, ...repeated])];
        // Unverified whether CDF answers 409 or 400; 409 with `duplicated` is CDF's usual form.
        if (duplicated.length > 0) throw new HttpError(409, `Tables already exist: ${duplicated.join(', ')}`, { duplicated: duplicated.map((tablename) => ({ tablename })) });

        const now = clock.now();
        const rows = tables.map((t) => {
          const raw = t.type === 'raw_rows' ? t.options : undefined;
          return { tablename: t.tablename, type: t.type, options: t.options, columns: columnsOf(t), raw_database: raw?.database ?? null, raw_table: raw?.table ?? null };
        });
        // One statement for the three catalog tables, and the RAW views, sent with the transaction's
        // BEGIN. The RAW databases and tables come into existence with the first table that maps to them.
        const catalog = `WITH t AS (
            SELECT * FROM json_to_recordset(${quoteLiteral(JSON.stringify(rows))}::json) AS t(tablename text, type text, options json, columns json, raw_database text, raw_table text)
          ), gateway AS (
            INSERT INTO cognite.gateway_tables (username, tablename, type, options, columns, created_time, raw_database, raw_table)
            SELECT ${quoteLiteral(username)}, t.tablename, t.type, t.options, t.columns, ${now}::bigint, t.raw_database, t.raw_table FROM t
          ), dbs AS (
            INSERT INTO cognite.raw_dbs (project, name, created_time)
            SELECT DISTINCT ${quoteLiteral(project)}, t.raw_database, ${now}::bigint FROM t WHERE t.raw_database IS NOT NULL ON CONFLICT DO NOTHING
          )
          INSERT INTO cognite.raw_tables (project, db, name, created_time)
          SELECT DISTINCT ${quoteLiteral(project)}, t.raw_database, t.raw_table, ${now}::bigint FROM t WHERE t.raw_database IS NOT NULL ON CONFLICT DO NOTHING`;
        const views = rawViewStatements(tables.flatMap((t) => (t.type === 'raw_rows' ? [rawMapping(project, username, t)] : [])));
        await pg.transaction(() => createTables(pg, username, tables.map(definition)), [catalog, ...views]).catch((error: unknown) => {
          // A concurrent create of the same name loses the race on the primary key.
          if ((error as { code?: string }).code === '23505') throw new HttpError(409, 'Tables already exist', { duplicated: names.map((tablename) => ({ tablename })) });
          throw error;
        });
        return { items: tables.map((t) => ({ tablename: t.tablename, type: t.type, createdTime: now, options: t.options, columns: columnsOf(t) })) };
      },
    }),
    gatewayRoute({
      method: 'GET',
      path: base,
      guard: read,
      params: pathParams,
      query: listQuery,
      async handler(_ctx, { guard: { project }, params: { username }, query }) {
        await requireUser(project, username);
        const found = (await tablesOf(username)).map(tableItem);
        if (query.includeBuiltIns) found.push(...Object.keys(BUILT_INS).map(builtInItem));
        found.sort((a, b) => compare(a.tablename as string, b.tablename as string));
        return page(found, (item) => item.tablename as string, query.limit, query.cursor);
      },
    }),
    gatewayRoute({
      method: 'POST',
      path: `${base}/byids`,
      guard: read,
      params: pathParams,
      body: namesBody,
      async handler(_ctx, { guard: { project }, params: { username }, body }) {
        const names = body.items.map((item) => item.tablename);
        await requireUser(project, username);
        const rows = await tablesOf(username, names);
        const found = names.flatMap((name) => {
          const row = rows.find((r) => r.tablename === name);
          return row ? [tableItem(row)] : isBuiltIn(name) ? [builtInItem(name)] : [];
        });
        const missing = names.filter((name) => !isBuiltIn(name) && !rows.some((r) => r.tablename === name));
        if (missing.length > 0 && !body.ignoreUnknownIds) throw unknownTables(missing);
        return { items: found };
      },
    }),
    gatewayRoute({
      method: 'POST',
      path: `${base}/delete`,
      guard: write,
      params: pathParams,
      body: namesBody,
      async handler(_ctx, { guard: { project }, params: { username }, body }) {
        const names = body.items.map((item) => item.tablename);
        await requireUser(project, username);
        await pg.transaction(async (tx) => {
          const deleted = await tx.query('DELETE FROM cognite.gateway_tables WHERE username = $1 AND tablename = ANY($2) RETURNING tablename, type', [username, names]);
          const gone = deleted.rows as { tablename: string; type: string }[];
          const missing = names.filter((name) => !gone.some((g) => g.tablename === name));
          // Built-in tables cannot be deleted; they count as unknown here.
          if (missing.length > 0 && !body.ignoreUnknownIds) throw unknownTables(missing);
          // The RAW rows the tables wrote stay in RAW.
          await dropRawViews(tx, username, gone.filter((g) => g.type === 'raw_rows').map((g) => g.tablename));
          await dropTables(pg, username, gone.map((g) => g.tablename));
        });
        return {};
      },
    }),
  ];
}

/** Code-unit order, the same order cursors compare in. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
