/**
 * A table's net changes, worked out on the server into the temporary table `pg_temp.sg_changes`,
 * from either the change log or a comparison with an older version of the table. Commit, pending
 * changes and diff all read that one table.
 *
 * With a primary key, a change is keyed: `k1…kn` (the key), `original` (the row's text before
 * the changes; NULL if the key was absent) and `present` (whether the key is in the table now).
 * Keys whose row ends up as it began are left out. Without a primary key a row is its own
 * identity, and rows may repeat: a change is `row_text` and `net`, how many more (or, negative,
 * fewer) copies of that row the table holds.
 */
import type { ClientBase } from 'pg';
import { AUDIT_SCHEMA, ident, literal, qualified } from './sql';
import type { TableInfo } from './tables';

export const CHANGES = 'pg_temp.sg_changes';
const LOG = `${AUDIT_SCHEMA}.pending_changes`;

/** One changed row. */
export interface RowChange {
  readonly kind: 'insert' | 'update' | 'delete';
  /** The primary key values; for a table without one, the whole row. */
  readonly key: Record<string, unknown>;
  /** The row before the change (null for an insert), as JSON. */
  readonly oldRow: Record<string, unknown> | null;
  /** The row after the change (null for a delete), as JSON. */
  readonly newRow: Record<string, unknown> | null;
}

/** Row counts of a table's net changes. */
export interface ChangeCounts {
  readonly inserted: number;
  readonly deleted: number;
  readonly updated: number;
}

/** `t."id" = c.k1 AND …`: a live (or old) row joined to its change by key. */
export function keyJoin(info: TableInfo, row: string, change: string): string {
  return info.primaryKey.map((column, i) => `${row}.${ident(column.name)} = ${change}.k${i + 1}`).join(' AND ');
}

/**
 * The text of a row (NULL for the missing side of an outer join). `(t.*)` rather than `t`,
 * which would mean a column if the table has one named `t`.
 */
const rowText = (row: string): string => `(${row}.*)::text`;

async function replace(client: ClientBase, select: string, params: unknown[]): Promise<void> {
  await client.query(`DROP TABLE IF EXISTS ${CHANGES}`);
  await client.query(`CREATE TEMP TABLE sg_changes ON COMMIT DROP AS ${select}`, params);
}

/** Fills `sg_changes` from the log of a tracked table (in the caller's canonical transaction). */
export async function loadLoggedChanges(client: ClientBase, info: TableInfo): Promise<void> {
  const events = `
    SELECT l.statement_id, 0 AS side, r AS row_text FROM ${LOG} l, unnest(l.old_rows) r WHERE l.relation = $1
    UNION ALL
    SELECT l.statement_id, 1 AS side, r AS row_text FROM ${LOG} l, unnest(l.new_rows) r WHERE l.relation = $1`;
  if (info.primaryKey.length === 0) {
    await replace(client, `
      SELECT row_text, sum(CASE side WHEN 0 THEN -1 ELSE 1 END)::bigint AS net FROM (${events}) e
      GROUP BY row_text HAVING sum(CASE side WHEN 0 THEN -1 ELSE 1 END) <> 0`, [info.oid]);
    return;
  }
  const keys = info.primaryKey.map((column, i) => `(parsed).${ident(column.name)} AS k${i + 1}`).join(', ');
  const keyNames = info.primaryKey.map((_, i) => `k${i + 1}`).join(', ');
  // A key's original row is the first one logged for it, if it was on the way out (a removal
  // side sorts before the adding side of the same statement); a key first seen arriving was absent.
  await replace(client, `
    WITH parsed AS (SELECT statement_id, side, row_text, row_text::${qualified(info.ref)} AS parsed FROM (${events}) e OFFSET 0),
    firsts AS (
      SELECT DISTINCT ON (${keyNames}) ${keys}, CASE WHEN side = 0 THEN row_text END AS original
      FROM parsed ORDER BY ${keyNames}, statement_id, side)
    SELECT f.*, t.${ident(info.primaryKey[0].name)} IS NOT NULL AS present
    FROM firsts f LEFT JOIN ${qualified(info.ref)} t ON ${keyJoin(info, 't', 'f')}
    WHERE CASE WHEN f.original IS NULL THEN t.${ident(info.primaryKey[0].name)} IS NOT NULL
               ELSE f.original IS DISTINCT FROM ${rowText('t')} END`, [info.oid]);
}

/** Fills `sg_changes` by comparing the table with `old`, a table of the same columns. */
export async function loadComparedChanges(client: ClientBase, info: TableInfo, old: string): Promise<void> {
  if (info.primaryKey.length === 0) {
    await replace(client, `
      SELECT row_text, sum(delta)::bigint AS net
      FROM (SELECT (o.*)::text AS row_text, -1 AS delta FROM ${old} o UNION ALL SELECT (t.*)::text, 1 FROM ${qualified(info.ref)} t) e
      GROUP BY row_text HAVING sum(delta) <> 0`, []);
    return;
  }
  const keys = info.primaryKey.map((column, i) => `coalesce(o.${ident(column.name)}, t.${ident(column.name)}) AS k${i + 1}`).join(', ');
  const on = info.primaryKey.map((column) => `o.${ident(column.name)} = t.${ident(column.name)}`).join(' AND ');
  await replace(client, `
    SELECT ${keys}, ${rowText('o')} AS original, t.${ident(info.primaryKey[0].name)} IS NOT NULL AS present
    FROM ${old} o FULL JOIN ${qualified(info.ref)} t ON ${on}
    WHERE ${rowText('o')} IS DISTINCT FROM ${rowText('t')}`, []);
}

/** Counts the rows in `sg_changes`. */
export async function countChanges(client: ClientBase, info: TableInfo): Promise<ChangeCounts> {
  const sql = info.primaryKey.length === 0
    ? `SELECT coalesce(sum(net) FILTER (WHERE net > 0), 0) AS inserted, coalesce(-sum(net) FILTER (WHERE net < 0), 0) AS deleted, 0 AS updated FROM ${CHANGES}`
    : `SELECT count(*) FILTER (WHERE original IS NULL) AS inserted, count(*) FILTER (WHERE NOT present) AS deleted,
              count(*) FILTER (WHERE original IS NOT NULL AND present) AS updated FROM ${CHANGES}`;
  const { rows } = await client.query(sql);
  return { inserted: Number(rows[0].inserted), deleted: Number(rows[0].deleted), updated: Number(rows[0].updated) };
}

/** Reads `sg_changes` as row changes, in key (or row text) order. */
export async function readChanges(client: ClientBase, info: TableInfo): Promise<RowChange[]> {
  const type = qualified(info.ref);
  if (info.primaryKey.length === 0) {
    const { rows } = await client.query<{ row: Record<string, unknown>; net: string }>(
      `SELECT to_jsonb(row_text::${type}) AS row, net FROM ${CHANGES} ORDER BY row_text COLLATE "C"`,
    );
    return rows.flatMap(({ row, net }) => {
      const copies = Math.abs(Number(net));
      const change: RowChange = Number(net) > 0 ? { kind: 'insert', key: row, oldRow: null, newRow: row } : { kind: 'delete', key: row, oldRow: row, newRow: null };
      return Array.from({ length: copies }, () => change);
    });
  }
  const key = info.primaryKey.map((column, i) => `${literal(column.name)}, c.k${i + 1}`).join(', ');
  const order = info.primaryKey.map((_, i) => `c.k${i + 1}`).join(', ');
  const { rows } = await client.query<{ key: Record<string, unknown>; old_row: Record<string, unknown> | null; new_row: Record<string, unknown> | null }>(
    `SELECT jsonb_build_object(${key}) AS key,
            CASE WHEN c.original IS NOT NULL THEN to_jsonb(c.original::${type}) END AS old_row,
            CASE WHEN c.present THEN to_jsonb(t.*) END AS new_row
     FROM ${CHANGES} c LEFT JOIN ${type} t ON ${keyJoin(info, 't', 'c')} ORDER BY ${order}`,
  );
  return rows.map((row) => ({
    kind: row.old_row === null ? 'insert' : row.new_row === null ? 'delete' : 'update',
    key: row.key,
    oldRow: row.old_row,
    newRow: row.new_row,
  }));
}
