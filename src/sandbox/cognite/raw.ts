/**
 * Enough of CDF RAW to see what gateway raw tables hold: list databases and tables, read rows, and
 * create databases and tables (as clients that prepare RAW first do). A RAW table's rows are read
 * from the gateway tables that map to it, so rows written through the gateway show up here, and
 * go away with the gateway table (the one way the sandbox differs from CDF, where RAW keeps them).
 */
import { HttpError, type RequestContext, type Route } from '../http';
import type { PostgresServer } from '../postgres';
import type { CogniteAuth } from './auth';
import { readRawRows, type RawRow } from './userdb';
import { booleanFlag, cdfInput as input, decodeCursor, page } from './validate';

export function rawRoutes(pg: PostgresServer, auth: CogniteAuth): Route[] {
  const base = '/api/v1/projects/:project/raw/dbs';

  function limitOf(ctx: RequestContext, fallback: number, max: number): number {
    return ctx.query.has('limit') ? input.integer(ctx.query.get('limit'), 'limit', 1, max) : fallback;
  }

  async function requireDb(project: string, db: string): Promise<void> {
    const found = await pg.state.query('SELECT 1 FROM cognite.raw_dbs WHERE project = $1 AND name = $2', [project, db]);
    if (found.rowCount === 0) throw new HttpError(404, `Following databases not found: ${db}`, { missing: [{ name: db }] });
  }

  async function requireTable(project: string, db: string, table: string): Promise<void> {
    await requireDb(project, db);
    const found = await pg.state.query('SELECT 1 FROM cognite.raw_tables WHERE project = $1 AND db = $2 AND name = $3', [project, db, table]);
    if (found.rowCount === 0) throw new HttpError(404, `Following tables not found: ${table}`, { missing: [{ name: table }] });
  }

  /** All rows of a RAW table, merged over the gateway tables that map to it (latest write wins). */
  async function rows(project: string, db: string, table: string): Promise<RawRow[]> {
    const sources = await pg.state.query(
      `SELECT t.username, t.tablename, t.options->>'primaryKey' AS primary_key, t.created_time
         FROM cognite.gateway_tables t JOIN cognite.gateway_users u USING (username)
        WHERE u.project = $1 AND t.raw_database = $2 AND t.raw_table = $3`,
      [project, db, table],
    );
    const byKey = new Map<string, RawRow>();
    for (const source of sources.rows as { username: string; tablename: string; primary_key: string | null; created_time: string }[]) {
      const found = await readRawRows(pg, source.username, source.tablename, source.primary_key ?? undefined, Number(source.created_time));
      for (const row of found) {
        const seen = byKey.get(row.key);
        if (!seen || seen.lastUpdatedTime <= row.lastUpdatedTime) byKey.set(row.key, row);
      }
    }
    return [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** `{items: [{name}]}` for the create endpoints. */
  async function names(ctx: RequestContext): Promise<string[]> {
    const body = input.body(await ctx.json());
    input.only(body, ['items']);
    return input.items(body, 1, 1000).map((item, i) => {
      const obj = input.object(item, `items.${i}`);
      input.only(obj, ['name']);
      return input.string(input.required(obj, 'name', `items.${i}`), `items.${i}.name`, 1, 64);
    });
  }

  return [
    {
      method: 'GET',
      path: base,
      async handler(ctx) {
        const project = ctx.params.project!;
        await auth.authorize(ctx, project, 'rawAcl', ['READ', 'LIST']);
        const limit = limitOf(ctx, 25, 1000);
        const found = await pg.state.query('SELECT name FROM cognite.raw_dbs WHERE project = $1 ORDER BY name', [project]);
        return page((found.rows as { name: string }[]).map(({ name }) => ({ name })), (d) => d.name, limit, decodeCursor(ctx.query.get('cursor'), 400));
      },
    },
    {
      method: 'POST',
      path: base,
      async handler(ctx) {
        const project = ctx.params.project!;
        await auth.authorize(ctx, project, 'rawAcl', 'WRITE');
        const dbs = await names(ctx);
        const existing = await pg.state.query('SELECT name FROM cognite.raw_dbs WHERE project = $1 AND name = ANY($2)', [project, dbs]);
        if (existing.rowCount) {
          throw new HttpError(400, 'Databases already created', { duplicated: (existing.rows as { name: string }[]).map(({ name }) => ({ name })) });
        }
        for (const name of dbs) await pg.state.query('INSERT INTO cognite.raw_dbs (project, name, created_time) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [project, name, Date.now()]);
        return { items: dbs.map((name) => ({ name })) };
      },
    },
    {
      method: 'GET',
      path: `${base}/:db/tables`,
      async handler(ctx) {
        const { project, db } = ctx.params as { project: string; db: string };
        await auth.authorizeFor(ctx, project, 'rawAcl', ['READ', 'LIST'], { db });
        const limit = limitOf(ctx, 25, 1000);
        await requireDb(project, db);
        const found = await pg.state.query('SELECT name FROM cognite.raw_tables WHERE project = $1 AND db = $2 ORDER BY name', [project, db]);
        return page((found.rows as { name: string }[]).map(({ name }) => ({ name })), (t) => t.name, limit, decodeCursor(ctx.query.get('cursor'), 400));
      },
    },
    {
      method: 'POST',
      path: `${base}/:db/tables`,
      async handler(ctx) {
        const { project, db } = ctx.params as { project: string; db: string };
        await auth.authorizeFor(ctx, project, 'rawAcl', 'WRITE', { db });
        const tables = await names(ctx);
        if (booleanFlag(ctx.query.get('ensureParent'), 'ensureParent', false)) {
          await pg.state.query('INSERT INTO cognite.raw_dbs (project, name, created_time) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [project, db, Date.now()]);
        }
        await requireDb(project, db);
        const existing = await pg.state.query('SELECT name FROM cognite.raw_tables WHERE project = $1 AND db = $2 AND name = ANY($3)', [project, db, tables]);
        if (existing.rowCount) {
          throw new HttpError(400, 'Tables already created', { duplicated: (existing.rows as { name: string }[]).map(({ name }) => ({ name })) });
        }
        for (const name of tables) {
          await pg.state.query('INSERT INTO cognite.raw_tables (project, db, name, created_time) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [project, db, name, Date.now()]);
        }
        return { items: tables.map((name) => ({ name })) };
      },
    },
    {
      method: 'GET',
      path: `${base}/:db/tables/:table/rows`,
      async handler(ctx) {
        const { project, db, table } = ctx.params as { project: string; db: string; table: string };
        await auth.authorizeFor(ctx, project, 'rawAcl', 'READ', { db, table });
        const limit = limitOf(ctx, 25, 10_000);
        const after = decodeCursor(ctx.query.get('cursor'), 400);
        await requireTable(project, db, table);
        const wanted = ctx.query.get('columns');
        const all = await rows(project, db, table);
        // `columns=a,b` keeps only those columns; `columns=` (empty) keeps none, as in CDF.
        const shown = wanted === null ? all : all.map((row) => ({ ...row, columns: pick(row.columns, wanted) }));
        return page(shown, (row) => row.key, limit, after);
      },
    },
    {
      method: 'GET',
      path: `${base}/:db/tables/:table/rows/:key`,
      async handler(ctx) {
        const { project, db, table, key } = ctx.params as { project: string; db: string; table: string; key: string };
        await auth.authorizeFor(ctx, project, 'rawAcl', 'READ', { db, table });
        await requireTable(project, db, table);
        const row = (await rows(project, db, table)).find((r) => r.key === key);
        if (!row) throw new HttpError(404, `Row not found: ${key}`, { missing: [{ key }] });
        return row;
      },
    },
  ];
}

function pick(columns: Record<string, unknown>, wanted: string): Record<string, unknown> {
  const names = wanted.split(',').map((c) => c.trim()).filter(Boolean);
  return Object.fromEntries(Object.entries(columns).filter(([name]) => names.includes(name)));
}
