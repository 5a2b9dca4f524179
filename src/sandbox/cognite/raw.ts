/**
 * Enough of CDF RAW to see what gateway raw tables wrote: list and create databases and tables,
 * read rows. Rows come from the RAW store (raw-store.ts), not from the gateway tables, so they
 * outlive a dropped gateway table as in CDF.
 */
import * as z from 'zod';
import type { Clock } from '../clock';
import { HttpError } from '../errors';
import { route, type Route } from '../http';
import type { PostgresServer } from '../postgres';
import type { CogniteAuth } from './auth';
import { page, pageOf } from './paging';
import { readRawRow, readRawRows } from './raw-store';
import { cursor, flag, integer, items, text } from './schemas';

const dbParams = z.object({ project: z.string(), db: text(1) });
const tableParams = dbParams.extend({ table: text(1) });
const rowParams = tableParams.extend({ key: text(1) });

const namesQuery = z.object({ limit: integer(1, 1000).default(25), cursor });
const rowsQuery = z.object({
  limit: integer(1, 10_000).default(25),
  cursor,
  // `columns=a,b` keeps only those columns; `columns=` (empty) keeps none, as in CDF.
  columns: z.string().optional(),
});
/** `{items: [{name}]}`; RAW allows database names of up to 32 characters and table names of 64. */
const namesBody = (maxLength: number) => z.strictObject({ items: items(z.strictObject({ name: text(1, maxLength) }), 1, 1000) });
const dbNames = namesBody(32);
const tableNames = namesBody(64);

export function rawRoutes(pg: PostgresServer, auth: CogniteAuth, clock: Clock): Route[] {
  const base = '/api/v1/projects/:project/raw/dbs';

  async function requireDb(project: string, db: string): Promise<void> {
    const found = await pg.state.query('SELECT 1 FROM cognite.raw_dbs WHERE project = $1 AND name = $2', [project, db]);
    if (found.rowCount === 0) throw new HttpError(404, `Following databases not found: ${db}`, { missing: [{ name: db }] });
  }

  async function requireTable(project: string, db: string, table: string): Promise<void> {
    await requireDb(project, db);
    const found = await pg.state.query('SELECT 1 FROM cognite.raw_tables WHERE project = $1 AND db = $2 AND name = $3', [project, db, table]);
    if (found.rowCount === 0) throw new HttpError(404, `Following tables not found: ${table}`, { missing: [{ name: table }] });
  }

  function named(rows: Array<{ name: string }>) {
    return rows.map(({ name }) => ({ name }));
  }

  return [
    route({
      method: 'GET',
      path: base,
      guard: auth.guard('rawAcl', ['READ', 'LIST']),
      query: namesQuery,
      async handler(_ctx, { guard: { project }, query }) {
        const found = await pg.state.query('SELECT name FROM cognite.raw_dbs WHERE project = $1 ORDER BY name', [project]);
        return page(named(found.rows), (d) => d.name, query.limit, query.cursor);
      },
    }),
    route({
      method: 'POST',
      path: base,
      guard: auth.guard('rawAcl', 'WRITE'),
      body: dbNames,
      async handler(_ctx, { guard: { project }, body }) {
        const dbs = body.items.map((item) => item.name);
        const existing = await pg.state.query('SELECT name FROM cognite.raw_dbs WHERE project = $1 AND name = ANY($2)', [project, dbs]);
        if (existing.rowCount) throw new HttpError(400, 'Databases already created', { duplicated: named(existing.rows) });
        for (const name of dbs) await pg.state.query('INSERT INTO cognite.raw_dbs (project, name, created_time) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [project, name, clock.now()]);
        return { items: dbs.map((name) => ({ name })) };
      },
    }),
    route({
      method: 'GET',
      path: `${base}/:db/tables`,
      guard: auth.guard('rawAcl', ['READ', 'LIST'], (params) => ({ db: params.db! })),
      params: dbParams,
      query: namesQuery,
      async handler(_ctx, { guard: { project }, params: { db }, query }) {
        await requireDb(project, db);
        const found = await pg.state.query('SELECT name FROM cognite.raw_tables WHERE project = $1 AND db = $2 ORDER BY name', [project, db]);
        return page(named(found.rows), (t) => t.name, query.limit, query.cursor);
      },
    }),
    route({
      method: 'POST',
      path: `${base}/:db/tables`,
      guard: auth.guard('rawAcl', 'WRITE', (params) => ({ db: params.db! })),
      params: dbParams,
      query: z.object({ ensureParent: flag(false) }),
      body: tableNames,
      async handler(_ctx, { guard: { project }, params: { db }, query, body }) {
        const tables = body.items.map((item) => item.name);
        if (query.ensureParent) {
          await pg.state.query('INSERT INTO cognite.raw_dbs (project, name, created_time) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [project, db, clock.now()]);
        }
        await requireDb(project, db);
        const existing = await pg.state.query('SELECT name FROM cognite.raw_tables WHERE project = $1 AND db = $2 AND name = ANY($3)', [project, db, tables]);
        if (existing.rowCount) throw new HttpError(400, 'Tables already created', { duplicated: named(existing.rows) });
        for (const name of tables) {
          await pg.state.query('INSERT INTO cognite.raw_tables (project, db, name, created_time) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [project, db, name, clock.now()]);
        }
        return { items: tables.map((name) => ({ name })) };
      },
    }),
    route({
      method: 'GET',
      path: `${base}/:db/tables/:table/rows`,
      guard: auth.guard('rawAcl', 'READ', (params) => ({ db: params.db!, table: params.table! })),
      params: tableParams,
      query: rowsQuery,
      async handler(_ctx, { guard: { project }, params: { db, table }, query }) {
        await requireTable(project, db, table);
        const rows = await readRawRows(pg, project, db, table, query.cursor, query.limit + 1);
        const shown = query.columns === undefined ? rows : rows.map((row) => ({ ...row, columns: pick(row.columns, query.columns!) }));
        return pageOf(shown, (row) => row.key, query.limit);
      },
    }),
    route({
      method: 'GET',
      path: `${base}/:db/tables/:table/rows/:key`,
      guard: auth.guard('rawAcl', 'READ', (params) => ({ db: params.db!, table: params.table! })),
      params: rowParams,
      async handler(_ctx, { guard: { project }, params: { db, table, key } }) {
        await requireTable(project, db, table);
        const row = await readRawRow(pg, project, db, table, key);
        if (!row) throw new HttpError(404, `Row not found: ${key}`, { missing: [{ key }] });
        return row;
      },
    }),
  ];
}

function pick(columns: Record<string, unknown>, wanted: string): Record<string, unknown> {
  const names = wanted.split(',').map((c) => c.trim()).filter(Boolean);
  return Object.fromEntries(Object.entries(columns).filter(([name]) => names.includes(name)));
}
