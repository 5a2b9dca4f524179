/**
 * Change tracking: statement-level AFTER triggers copy every changed row, as text, into
 * `splitgraph_audit.pending_changes` (see install.ts), and these functions read and manage it.
 *
 * A tracked table also has its *shape* recorded: the data file and the columns (with their
 * attribute numbers and types) it had when its log was last empty. Some DDL changes rows without
 * any DML (dropping and re-adding a column, ALTER COLUMN … TYPE … USING, TRUNCATE), so a commit
 * that finds the shape changed stores the table whole instead of trusting the log.
 */
import type { ClientBase } from 'pg';
import { pendingChanges } from './errors';
import { AUDIT_SCHEMA, ident, qualified, transaction, type TableRef } from './sql';
import { describeTable, type TableInfo } from './tables';
import { loadLoggedChanges, readChanges, type RowChange } from './changes';

const LOG = `${AUDIT_SCHEMA}.pending_changes`;
const TRACKED = `${AUDIT_SCHEMA}.tracked_tables`;
const TRIGGERS = [
  ['splitgraph_capture_insert', 'AFTER INSERT', 'REFERENCING NEW TABLE AS new_table'],
  ['splitgraph_capture_update', 'AFTER UPDATE', 'REFERENCING OLD TABLE AS old_table NEW TABLE AS new_table'],
  ['splitgraph_capture_delete', 'AFTER DELETE', 'REFERENCING OLD TABLE AS old_table'],
  ['splitgraph_capture_truncate', 'AFTER TRUNCATE', ''],
] as const;

/** Row counts of a table's pending changes, as logged (see {@link getPendingChanges}). */
export interface PendingCounts {
  /** Rows inserted. */
  readonly added: number;
  /** Rows deleted. */
  readonly removed: number;
  /** Rows updated (an update that changed nothing counts too). */
  readonly updated: number;
  /** Whether the table was truncated (its rows then count nowhere above). */
  readonly truncated: boolean;
}

/** The shape fingerprint of a table: its data file and its live columns with attribute numbers and types. */
const SHAPE = `
  SELECT c.relfilenode::text || '/' || string_agg(a.attnum || ':' || a.attname || ':' || a.atttypid || ':' || a.atttypmod, ',' ORDER BY a.attnum)
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  WHERE c.oid = $1 GROUP BY c.relfilenode`;

/**
 * Starts tracking a table (inside the caller's canonical transaction). A tracked table is left as
 * it is; one whose triggers were dropped or disabled gets them back, but keeps its recorded shape
 * (or gets none), so that its next commit stores it whole rather than trust an incomplete log.
 */
export async function trackTable(client: ClientBase, info: TableInfo): Promise<void> {
  const state = await trackingState(client, info.oid);
  if (state === 'reliable') return;
  if (state === 'untracked') {
    // A table that reuses a dropped table's oid must not inherit its log.
    await client.query(`DELETE FROM ${LOG} WHERE relation = $1`, [info.oid]);
    await client.query(`DELETE FROM ${TRACKED} WHERE relation = $1`, [info.oid]);
  }
  await installTriggers(client, info);
  // An empty shape matches no table.
  await client.query(
    `INSERT INTO ${TRACKED} (relation, schema_name, table_name, shape) VALUES ($1, $2, $3, CASE WHEN $4 THEN (${SHAPE}) ELSE '' END)
     ON CONFLICT (relation) DO NOTHING`,
    [info.oid, info.ref.schema, info.ref.table, state === 'untracked'],
  );
}

/**
 * Makes a table's current contents the baseline of its log (after a commit or checkout): ensures
 * its triggers, empties its log and records its current shape.
 */
export async function resetTracking(client: ClientBase, info: TableInfo): Promise<void> {
  const money = await hasMoney(client, info.oid);
  const { rows } = await client.query(
    `SELECT count(*) FILTER (WHERE tgenabled <> 'D' AND tgnargs = $3)::int AS current FROM pg_trigger WHERE tgrelid = $1 AND tgname = ANY($2)`,
    [info.oid, TRIGGERS.map(([name]) => name), money ? 1 : 0],
  );
  if (rows[0].current !== TRIGGERS.length) await installTriggers(client, info);
  await client.query(`DELETE FROM ${LOG} WHERE relation = $1`, [info.oid]);
  await client.query(
    `INSERT INTO ${TRACKED} (relation, schema_name, table_name, shape) VALUES ($1, $2, $3, (${SHAPE}))
     ON CONFLICT (relation) DO UPDATE SET schema_name = excluded.schema_name, table_name = excluded.table_name, shape = excluded.shape`,
    [info.oid, info.ref.schema, info.ref.table],
  );
}

/** Whether a table has money columns, whose text depends on lc_monetary (the capture trigger is told). */
async function hasMoney(client: ClientBase, oid: number): Promise<boolean> {
  const { rows } = await client.query(
    `SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped
                    AND atttypid IN ('money'::regtype, 'money[]'::regtype)) AS money`,
    [oid],
  );
  return rows[0].money as boolean;
}

async function installTriggers(client: ClientBase, info: TableInfo): Promise<void> {
  const argument = (await hasMoney(client, info.oid)) ? `'money'` : '';
  for (const [name, event, transitions] of TRIGGERS) {
    await client.query(`DROP TRIGGER IF EXISTS ${name} ON ${qualified(info.ref)}`);
    await client.query(
      `CREATE TRIGGER ${name} ${event} ON ${qualified(info.ref)} ${transitions} FOR EACH STATEMENT EXECUTE FUNCTION ${AUDIT_SCHEMA}.capture_changes(${argument})`,
    );
  }
}

/**
 * How a table is tracked: `reliable` when all its capture triggers are installed and enabled and
 * its shape is as recorded, so the log holds every change since the log was last empty;
 * `unreliable` when it is tracked but one of those is not so; `untracked` otherwise.
 */
export async function trackingState(client: ClientBase, oid: number): Promise<'reliable' | 'unreliable' | 'untracked'> {
  const { rows } = await client.query<{ triggers: number; enabled: number; recorded: boolean; same_shape: boolean }>(
    `SELECT count(t.oid)::int AS triggers, count(t.oid) FILTER (WHERE t.tgenabled <> 'D')::int AS enabled,
            EXISTS (SELECT 1 FROM ${TRACKED} WHERE relation = $1) AS recorded,
            EXISTS (SELECT 1 FROM ${TRACKED} WHERE relation = $1 AND shape = (${SHAPE})) AS same_shape
     FROM pg_trigger t WHERE t.tgrelid = $1 AND t.tgname = ANY($2)`,
    [oid, TRIGGERS.map(([name]) => name)],
  );
  const { triggers, enabled, recorded, same_shape } = rows[0];
  if (triggers === 0) return 'untracked';
  return triggers === TRIGGERS.length && enabled === triggers && recorded && same_shape ? 'reliable' : 'unreliable';
}

/** Removes the capture triggers and the table's log (inside the caller's canonical transaction). */
export async function untrackTable(client: ClientBase, info: TableInfo): Promise<void> {
  for (const [name] of TRIGGERS) await client.query(`DROP TRIGGER IF EXISTS ${name} ON ${qualified(info.ref)}`);
  await client.query(`DELETE FROM ${LOG} WHERE relation = $1`, [info.oid]);
  await client.query(`DELETE FROM ${TRACKED} WHERE relation = $1`, [info.oid]);
}

/** Deletes log rows and records of tables that no longer exist. */
export async function forgetDroppedTables(client: ClientBase): Promise<void> {
  await client.query(`DELETE FROM ${LOG} l WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = l.relation)`);
  await client.query(`DELETE FROM ${TRACKED} t WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.relation)`);
}

/** Logged counts of one table (inside the caller's transaction). */
export async function countPending(client: ClientBase, oid: number): Promise<PendingCounts> {
  const { rows } = await client.query<{ added: string; removed: string; updated: string; truncated: boolean }>(
    `SELECT coalesce(sum(cardinality(new_rows)) FILTER (WHERE action = 'I'), 0) AS added,
            coalesce(sum(cardinality(old_rows)) FILTER (WHERE action = 'D'), 0) AS removed,
            coalesce(sum(cardinality(old_rows)) FILTER (WHERE action = 'U'), 0) AS updated,
            bool_or(action = 'T') IS TRUE AS truncated
     FROM ${LOG} WHERE relation = $1`,
    [oid],
  );
  const row = rows[0];
  return { added: Number(row.added), removed: Number(row.removed), updated: Number(row.updated), truncated: row.truncated };
}

/**
 * Starts tracking changes to tables: installs statement-level triggers that log every inserted,
 * updated and deleted row, and TRUNCATE. Already tracked tables are left as they are.
 */
export async function trackTables(client: ClientBase, tables: readonly TableRef[]): Promise<void> {
  await transaction(client, async () => {
    for (const ref of sortTables(tables)) await trackTable(client, await describeTable(client, ref));
  });
}

/** Options of {@link untrackTables}. */
export interface UntrackOptions {
  /**
   * Untrack even tables with pending changes, discarding them.
   * @default false - such tables are refused, with their pending row count
   */
  readonly force?: boolean;
}

/**
 * Stops tracking tables and deletes their logs. A table with pending changes is refused (a
 * `pending-changes` error with the row count) unless `force` is set, since they would be lost.
 */
export async function untrackTables(client: ClientBase, tables: readonly TableRef[], options: UntrackOptions = {}): Promise<void> {
  await transaction(client, async () => {
    const infos = [];
    for (const ref of sortTables(tables)) infos.push(await describeTable(client, ref));
    if (!options.force) {
      for (const info of infos) {
        const counts = await countPending(client, info.oid);
        const rows = counts.added + counts.removed + counts.updated;
        if (rows > 0 || counts.truncated) {
          throw pendingChanges(
            `table ${qualified(info.ref)}${counts.truncated ? ' (truncated)' : ''}`,
            rows,
            'Commit them first, or pass { force: true } to discard them.',
          );
        }
      }
    }
    for (const info of infos) await untrackTable(client, info);
  });
}

/** The tables of `schema` (or of every schema) that have capture triggers, sorted. */
export async function getTrackedTables(client: ClientBase, schema?: string): Promise<TableRef[]> {
  const { rows } = await client.query<{ schema: string; table: string }>(
    `SELECT DISTINCT n.nspname AS schema, c.relname AS table
     FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE t.tgname = $1 AND ($2::name IS NULL OR n.nspname = $2)
     ORDER BY 1, 2`,
    [TRIGGERS[0][0], schema ?? null],
  );
  return rows;
}

/** Whether any tracked table of `schema` has logged changes. */
export async function hasPendingChanges(client: ClientBase, schema: string): Promise<boolean> {
  const { rows } = await client.query(
    `SELECT EXISTS (SELECT 1 FROM ${LOG} l JOIN pg_class c ON c.oid = l.relation WHERE c.relnamespace = to_regnamespace($1)) AS pending`,
    [ident(schema)],
  );
  return rows[0].pending as boolean;
}

/** The tables of `schema` with logged changes, sorted. */
export async function getChangedTables(client: ClientBase, schema: string): Promise<string[]> {
  const { rows } = await client.query<{ table: string }>(
    `SELECT DISTINCT c.relname AS table FROM ${LOG} l JOIN pg_class c ON c.oid = l.relation
     WHERE c.relnamespace = to_regnamespace($1) ORDER BY 1`,
    [ident(schema)],
  );
  return rows.map((r) => r.table);
}

/** Options of {@link getPendingChanges}. */
export interface PendingChangesOptions {
  /** Return counts instead of rows. */
  readonly aggregate?: boolean;
}

/**
 * A tracked table's pending changes.
 *
 * - `{ aggregate: true }`: counts of rows as logged, cheap and not reconciled (a row inserted and
 *   then deleted counts once in each; an update that changed nothing counts as an update).
 * - otherwise: one {@link RowChange} per key whose row differs from before the first pending
 *   change (for a table without a primary key: one per row copy added or removed). New values
 *   are read from the table itself, so the table must not have been truncated or reshaped.
 */
export function getPendingChanges(client: ClientBase, ref: TableRef, options: { aggregate: true }): Promise<PendingCounts>;
export function getPendingChanges(client: ClientBase, ref: TableRef, options?: { aggregate?: false }): Promise<RowChange[]>;
export async function getPendingChanges(client: ClientBase, ref: TableRef, options: PendingChangesOptions = {}): Promise<PendingCounts | RowChange[]> {
  return transaction(client, async () => {
    const info = await describeTable(client, ref);
    if (options.aggregate) return countPending(client, info.oid);
    await loadLoggedChanges(client, info);
    return readChanges(client, info);
  });
}

/**
 * Deletes the logged changes of `schema` (or of one table of it). The data is not reverted:
 * a later commit will not see those changes, unless the table's shape has changed since.
 */
export async function discardPendingChanges(client: ClientBase, schema: string, table?: string): Promise<void> {
  await transaction(client, async () => {
    if (table !== undefined) {
      const info = await describeTable(client, { schema, table });
      await client.query(`DELETE FROM ${LOG} WHERE relation = $1`, [info.oid]);
    } else {
      await client.query(
        `DELETE FROM ${LOG} l USING pg_class c WHERE c.oid = l.relation AND c.relnamespace = to_regnamespace($1)`,
        [ident(schema)],
      );
    }
  });
}

/** Tables in a fixed order, so that sessions lock them in the same order. */
export function sortTables(tables: readonly TableRef[]): TableRef[] {
  return [...tables].sort((a, b) => (a.schema === b.schema ? compare(a.table, b.table) : compare(a.schema, b.schema)));
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
