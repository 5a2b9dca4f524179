/**
 * Plain SQL engine operations: running statements, and reading, sizing, locking and dumping tables.
 */
import type { ClientBase, QueryResultRow } from 'pg';
import { invalidArgument, needsTransaction, notFound } from './errors';
import { FLAG_COLUMN, checkIdentifier, ident, qualified, transaction, type TableRef } from './sql';

/** A column of a table, as versioned: its position, name, full type (with typmod) and key membership. */
export interface Column {
  /** 1-based position among the table's columns. */
  readonly ordinal: number;
  readonly name: string;
  /** The type as `format_type` spells it, e.g. `numeric(10,2)`, `integer[]`, `public.mood`. */
  readonly type: string;
  readonly isPrimaryKey: boolean;
}

/** A table's columns and primary key: what a table version records besides its rows. */
export interface TableShape {
  readonly columns: readonly Column[];
  /** The primary key columns in key order; empty when the table has none (rows are then their own key). */
  readonly primaryKey: readonly Column[];
}

/** What the engine needs to know about a live table. */
export interface TableInfo extends TableShape {
  readonly ref: TableRef;
  readonly oid: number;
}

/**
 * A shape as stored in `splitgraph_meta.tables.table_schema`: Splitgraph's list of
 * `[ordinal, name, type, is_pk]`, with a fifth element, the column's position in the primary key
 * (null when not in it), so composite keys keep their order.
 */
export type EncodedShape = Array<[number, string, string, boolean, number | null]>;

export function encodeShape(shape: TableShape): EncodedShape {
  return shape.columns.map((c) => {
    const position = shape.primaryKey.findIndex((k) => k.name === c.name);
    return [c.ordinal, c.name, c.type, c.isPrimaryKey, position < 0 ? null : position + 1];
  });
}

export function decodeShape(encoded: EncodedShape): TableShape {
  const columns = encoded.map(([ordinal, name, type, isPrimaryKey]) => ({ ordinal, name, type, isPrimaryKey }));
  const primaryKey = encoded
    .filter(([, , , isPrimaryKey]) => isPrimaryKey)
    .sort((a, b) => (a[4] ?? a[0]) - (b[4] ?? b[0]))
    .map(([ordinal]) => columns.find((c) => c.ordinal === ordinal)!);
  return { columns, primaryKey };
}

/** Whether two shapes are the same (names, types, order and key). */
export function sameShape(a: TableShape, b: TableShape): boolean {
  return JSON.stringify(encodeShape(a)) === JSON.stringify(encodeShape(b));
}

/**
 * Runs one statement and returns its rows. Statements without parameters may hold several
 * commands separated by `;` (PostgreSQL's simple protocol); with parameters, only one.
 */
export async function runSql<R extends QueryResultRow = QueryResultRow>(client: ClientBase, sql: string, params?: readonly unknown[]): Promise<R[]> {
  const result = await client.query<R>(sql, params ? [...params] : undefined);
  // A multi-command string yields one result per command: return the last one's rows.
  const last = Array.isArray(result) ? (result as unknown as Array<{ rows: R[] }>).at(-1) : result;
  return last?.rows ?? [];
}

/**
 * Runs one parameterized statement once per argument list, all in one transaction (a savepoint
 * inside the caller's). Each run binds its own parameters, so no run nears PostgreSQL's 65,535
 * bind-parameter limit however many runs there are.
 */
export async function runSqlBatch(client: ClientBase, sql: string, argumentLists: ReadonlyArray<readonly unknown[]>): Promise<void> {
  await transaction(client, async () => {
    for (const args of argumentLists) await client.query(sql, [...args]);
  }, { canonical: false });
}

/** Reads a table's columns and key (the client must hold the canonical settings: see sql.ts). */
export async function describeTable(client: ClientBase, ref: TableRef): Promise<TableInfo> {
  const found = await client.query<{ oid: number }>(`SELECT to_regclass($1)::oid AS oid`, [qualified(ref)]);
  const oid = found.rows[0]?.oid;
  if (!oid) throw notFound(`table ${qualified(ref)}`, 'Check the schema and table names (they are case-sensitive).');
  const { rows } = await client.query<{ name: string; type: string; key_position: string | null }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, k.position AS key_position
     FROM pg_attribute a
     LEFT JOIN (SELECT key.attnum, key.position
                FROM pg_index i, unnest(i.indkey) WITH ORDINALITY AS key(attnum, position)
                WHERE i.indrelid = $1 AND i.indisprimary) k ON k.attnum = a.attnum
     WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY a.attnum`,
    [oid],
  );
  const columns = rows.map((row, i) => ({ ordinal: i + 1, name: row.name, type: row.type, isPrimaryKey: row.key_position !== null }));
  const primaryKey = rows
    .map((row, i) => ({ column: columns[i], position: Number(row.key_position) }))
    .filter(({ column }) => column.isPrimaryKey)
    .sort((a, b) => a.position - b.position)
    .map(({ column }) => column);
  return { ref, oid, columns, primaryKey };
}

/** The primary key columns of a table, in key order, with their types; empty if it has none. */
export async function getPrimaryKeys(client: ClientBase, ref: TableRef): Promise<Array<{ name: string; type: string }>> {
  const info = await transaction(client, () => describeTable(client, ref));
  return info.primaryKey.map(({ name, type }) => ({ name, type }));
}

/** A table's columns: position, name, type (with typmod) and whether it is in the primary key. */
export async function getTableSchema(client: ClientBase, ref: TableRef): Promise<Column[]> {
  return [...(await transaction(client, () => describeTable(client, ref))).columns];
}

/** Options of {@link getTableSize}. */
export interface TableSizeOptions {
  /**
   * Count TOAST, indexes and the free-space and visibility maps too.
   * @default false - the main data fork only, as Splitgraph reports object sizes
   */
  readonly total?: boolean;
}

/** A table's disk usage in bytes. */
export async function getTableSize(client: ClientBase, ref: TableRef, options: TableSizeOptions = {}): Promise<number> {
  const fn = options.total ? 'pg_total_relation_size' : 'pg_relation_size';
  const { rows } = await client.query<{ size: string | null }>(`SELECT ${fn}(to_regclass($1)) AS size`, [qualified(ref)]);
  if (rows[0].size === null) throw notFound(`table ${qualified(ref)}`, 'Check the schema and table names.');
  return Number(rows[0].size);
}

/** Lock modes of LOCK TABLE, weakest first. */
export type LockMode =
  | 'ACCESS SHARE' | 'ROW SHARE' | 'ROW EXCLUSIVE' | 'SHARE UPDATE EXCLUSIVE'
  | 'SHARE' | 'SHARE ROW EXCLUSIVE' | 'EXCLUSIVE' | 'ACCESS EXCLUSIVE';

/**
 * Locks a table until the client's transaction ends (so the client must be in one).
 * @param mode default `EXCLUSIVE`: others may still read, nobody else may write.
 */
export async function lockTable(client: ClientBase, ref: TableRef, mode: LockMode = 'EXCLUSIVE'): Promise<void> {
  if (client.getTransactionStatus() !== 'T') throw needsTransaction(`a lock on ${qualified(ref)}`);
  await client.query(`LOCK TABLE ${qualified(ref)} IN ${mode} MODE`);
}

/** Options of {@link dumpTableSql}. */
export interface DumpTableSqlOptions {
  /** Columns to dump. @default every column */
  readonly columns?: readonly string[];
  /** A WHERE condition over the table's columns, with `$1`… for `whereArgs`. @default every row */
  readonly where?: string;
  readonly whereArgs?: readonly unknown[];
  /** The table the INSERT statements name. @default the dumped table */
  readonly target?: TableRef;
  /** Rows per INSERT statement. @default 1000 */
  readonly rowsPerStatement?: number;
}

/**
 * Writes a table's rows to `stream` as `INSERT INTO … VALUES …;` statements (nothing for no
 * rows). Values are rendered by the server as quoted text under fixed settings (ISO dates, UTC,
 * exact floats, hex bytea), so the SQL loads back to the same values anywhere.
 */
export async function dumpTableSql(client: ClientBase, ref: TableRef, stream: NodeJS.WritableStream, options: DumpTableSqlOptions = {}): Promise<void> {
  const rowsPerStatement = options.rowsPerStatement ?? 1000;
  if (!Number.isInteger(rowsPerStatement) || rowsPerStatement < 1) throw invalidArgument(`rowsPerStatement must be a positive integer, got ${rowsPerStatement}`);
  await transaction(client, async () => {
    const info = await describeTable(client, ref);
    const names = options.columns ?? info.columns.map((c) => c.name);
    for (const name of names) {
      if (!info.columns.some((c) => c.name === name)) throw invalidArgument(`column '${name}' is not in ${qualified(ref)}; it has ${info.columns.map((c) => c.name).join(', ')}`);
    }
    const rendered = names.map((name) => `quote_nullable(${ident(name)}::text)`).join(` || ', ' || `);
    const where = options.where ? `WHERE ${options.where}` : '';
    const header = `INSERT INTO ${qualified(options.target ?? ref)} (${names.map(ident).join(', ')}) VALUES\n`;
    await forEachBatch(client, `SELECT '(' || ${rendered} || ')' AS line FROM ${qualified(ref)} ${where}`, options.whereArgs ?? [], rowsPerStatement, async (rows) => {
      await write(stream, `${header}${rows.map((r) => r.line as string).join(',\n')};\n`);
    });
  });
}

/** Reads a query's rows through a cursor, `batchRows` at a time (the client must be in a transaction). */
export async function forEachBatch(client: ClientBase, query: string, params: readonly unknown[], batchRows: number, fn: (rows: QueryResultRow[]) => Promise<void>): Promise<void> {
  await client.query(`DECLARE splitgraph_cursor NO SCROLL CURSOR FOR ${query}`, [...params]);
  try {
    for (;;) {
      const { rows } = await client.query(`FETCH ${batchRows} FROM splitgraph_cursor`);
      if (rows.length === 0) break;
      await fn(rows);
    }
  } finally {
    if (client.getTransactionStatus() === 'T') await client.query('CLOSE splitgraph_cursor');
  }
}

/** Writes to a stream, waiting for it to drain when its buffer is full. */
export async function write(stream: NodeJS.WritableStream, chunk: string): Promise<void> {
  if (stream.write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      stream.removeListener('drain', done);
      stream.removeListener('error', done);
      if (error) reject(error);
      else resolve();
    };
    stream.once('drain', done);
    stream.once('error', done);
  });
}

/** The base tables of a schema, by name. */
export async function listTables(client: ClientBase, schema: string): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname COLLATE "C"`,
    [schema],
  );
  return rows.map((r) => r.name);
}

/** Refuses tables the object model cannot hold. */
export function checkVersionable(info: TableInfo): void {
  checkIdentifier(info.ref.table, 'table name');
  if (info.columns.some((c) => c.name === FLAG_COLUMN)) {
    throw invalidArgument(`table ${qualified(info.ref)} has a column named ${FLAG_COLUMN}, which objects use to mark deletions; rename it to version the table`);
  }
  if (info.columns.length === 0) throw invalidArgument(`table ${qualified(info.ref)} has no columns, so there is nothing to version`);
}
