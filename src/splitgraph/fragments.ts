/**
 * Objects (fragments): immutable tables in `splitgraph_meta`, each with the versioned table's
 * columns plus `sg_ud_flag` (last): true = upsert this row, false = delete the row with this key
 * (for a table without a primary key: delete one copy of this row). A table version is an ordered
 * list of objects; applying them in order to an empty table rebuilds it.
 */
import type { ClientBase } from 'pg';
import { invalidArgument, notFound } from './errors';
import { CHANGES, keyJoin } from './changes';
import { ZERO_HASH, hashRows, isObjectId, objectId, schemaHash, subtractHashes, temporaryObjectName, type RowSetHash } from './hashing';
import { FLAG_COLUMN, META_SCHEMA, ident, objectTable, qualified, transaction, trySavepoint, type TableRef } from './sql';
import { describeTable, type Column, type TableInfo, type TableShape } from './tables';

/** An object's registration in `splitgraph_meta.objects`. */
export interface ObjectMeta {
  readonly objectId: string;
  /** The namespace of the repository that first stored it. */
  readonly namespace: string;
  readonly format: string;
  /** Bytes in the object table's main fork. */
  readonly size: number;
  readonly created: Date;
  /** Hash of the rows it upserts. */
  readonly insertionHash: string;
  /** Hash of the old rows its upserts replace and its deletions remove. */
  readonly deletionHash: string;
  /** Rows it upserts. */
  readonly rowsInserted: number;
  /** Old rows it replaces or deletes. */
  readonly rowsDeleted: number;
  /** Kept for Splitgraph's layout; empty (no layered querying). */
  readonly index: Record<string, unknown>;
}

/** The columns of an object table, flag last. */
function objectColumnsSql(columns: readonly Column[]): string {
  return [...columns.map((c) => `${ident(c.name)} ${c.type}`), `${FLAG_COLUMN} boolean NOT NULL`].join(', ');
}

const columnList = (columns: readonly Column[], prefix = '') => columns.map((c) => `${prefix}${ident(c.name)}`).join(', ');
const rowOf = (columns: readonly Column[], prefix = '') => `ROW(${columnList(columns, prefix)})::text`;

/** Creates an empty object table under a temporary name; returns the name. */
async function createObjectTable(client: ClientBase, columns: readonly Column[]): Promise<string> {
  const name = temporaryObjectName();
  await client.query(`CREATE TABLE ${objectTable(name)} (${objectColumnsSql(columns)})`);
  return name;
}

/**
 * Turns a filled temporary object table into a content-addressed, registered object: adds its
 * key, hashes it, renames it to its id (or drops it if that object exists already) and registers
 * it. `deletion` is the hash of the old rows it replaces or removes.
 */
async function finishObject(client: ClientBase, name: string, info: TableInfo, deletion: RowSetHash, namespace: string): Promise<string> {
  if (info.primaryKey.length) await client.query(`ALTER TABLE ${objectTable(name)} ADD PRIMARY KEY (${columnList(info.primaryKey)})`);
  const insertion = await hashRows(client, rowOf(info.columns), `${objectTable(name)} WHERE ${FLAG_COLUMN}`);
  const id = objectId(subtractHashes(insertion.hash, deletion.hash), schemaHash(info));
  const { rows } = await client.query(`SELECT to_regclass($1) IS NOT NULL AS found`, [objectTable(id)]);
  let renamed = false;
  if (!rows[0].found) {
    // Another session may be storing the same object: a duplicate name then means "already stored".
    renamed = (await trySavepoint(client, '42P07', () => client.query(`ALTER TABLE ${objectTable(name)} RENAME TO ${ident(id)}`))) !== undefined;
  }
  if (!renamed) await client.query(`DROP TABLE ${objectTable(name)}`);
  await client.query(
    `INSERT INTO ${META_SCHEMA}.objects (object_id, namespace, format, size, created, insertion_hash, deletion_hash, rows_inserted, rows_deleted, index)
     VALUES ($1, $2, 'FRAG', pg_relation_size($3::regclass), now() AT TIME ZONE 'UTC', $4, $5, $6, $7, '{}')
     ON CONFLICT (object_id) DO NOTHING`,
    [id, namespace, objectTable(id), insertion.hash, deletion.hash, insertion.rows, deletion.rows],
  );
  return id;
}

/**
 * Stores a table whole as base objects of at most `chunkRows` rows each, in key order (row text
 * order without a key), so equal tables cut into equal chunks and share objects.
 */
export async function storeSnapshot(client: ClientBase, info: TableInfo, namespace: string, chunkRows: number): Promise<string[]> {
  const order = info.primaryKey.length ? columnList(info.primaryKey, 't.') : `(t.*)::text COLLATE "C"`;
  await client.query(`DROP TABLE IF EXISTS pg_temp.sg_snapshot`);
  await client.query(
    `CREATE TEMP TABLE sg_snapshot ON COMMIT DROP AS
     SELECT (row_number() OVER (ORDER BY ${order}) - 1) / $1 AS "sg chunk", t.* FROM ${qualified(info.ref)} t`,
    [chunkRows],
  );
  const { rows } = await client.query(`SELECT coalesce(max("sg chunk") + 1, 0)::int AS chunks FROM pg_temp.sg_snapshot`);
  const chunks = rows[0].chunks as number;
  if (chunks > 1) await client.query(`CREATE INDEX ON pg_temp.sg_snapshot ("sg chunk")`);
  const ids: string[] = [];
  for (let chunk = 0; chunk < chunks; chunk++) {
    const name = await createObjectTable(client, info.columns);
    await client.query(
      `INSERT INTO ${objectTable(name)} SELECT ${columnList(info.columns)}, true FROM pg_temp.sg_snapshot WHERE "sg chunk" = $1`,
      [chunk],
    );
    ids.push(await finishObject(client, name, info, { hash: ZERO_HASH, rows: 0 }, namespace));
  }
  await client.query(`DROP TABLE pg_temp.sg_snapshot`);
  return ids;
}

/** Stores the changes in `sg_changes` (see changes.ts) as one patch object; null if there are none. */
export async function storePatch(client: ClientBase, info: TableInfo, namespace: string): Promise<string | null> {
  const { rows } = await client.query(`SELECT EXISTS (SELECT 1 FROM ${CHANGES}) AS any`);
  if (!rows[0].any) return null;
  const name = await createObjectTable(client, info.columns);
  let deletion: RowSetHash;
  if (info.primaryKey.length) {
    // Upserted rows are read from the table itself (locked by the caller), so they are exact.
    await client.query(
      `INSERT INTO ${objectTable(name)} SELECT ${columnList(info.columns, 't.')}, true
       FROM ${CHANGES} c JOIN ${qualified(info.ref)} t ON ${keyJoin(info, 't', 'c')} WHERE c.present`,
    );
    const keys = info.primaryKey.map((_, i) => `c.k${i + 1}`).join(', ');
    await client.query(`INSERT INTO ${objectTable(name)} (${columnList(info.primaryKey)}, ${FLAG_COLUMN}) SELECT ${keys}, false FROM ${CHANGES} c WHERE NOT c.present`);
    deletion = await hashRows(client, 'original', `${CHANGES} WHERE original IS NOT NULL`);
  } else {
    await client.query(
      `INSERT INTO ${objectTable(name)} SELECT ${columnList(info.columns, '(p).')}, net > 0
       FROM (SELECT row_text::${qualified(info.ref)} AS p, net FROM ${CHANGES}, generate_series(1, abs(net)) OFFSET 0) s`,
    );
    deletion = await hashRows(client, rowOf(info.columns), `${objectTable(name)} WHERE NOT ${FLAG_COLUMN}`);
  }
  return finishObject(client, name, info, deletion, namespace);
}

/** A fragment to apply: where it is, and whether it may delete rows. */
interface Fragment {
  readonly table: string;
  readonly deletes: boolean;
}

/** An SQL condition with its parameters (`$1`…). */
export interface SqlFilter {
  readonly sql: string;
  readonly params?: readonly unknown[];
}

/** The statements that apply one fragment to `target`. */
function applyStatements(target: string, columns: readonly Column[], primaryKey: readonly Column[], fragment: Fragment, filter?: SqlFilter): string[] {
  const statements: string[] = [];
  if (fragment.deletes) {
    if (primaryKey.length) {
      const on = primaryKey.map((c) => `t.${ident(c.name)} = s.${ident(c.name)}`).join(' AND ');
      statements.push(`DELETE FROM ${target} t USING ${fragment.table} s WHERE ${on}`);
    } else {
      // Without a key, delete as many copies of each row as the fragment deletes.
      const removed = `SELECT ${rowOf(columns, 's.')} AS row_text FROM ${fragment.table} s WHERE NOT s.${FLAG_COLUMN}`;
      statements.push(
        `DELETE FROM ${target} WHERE ctid IN (
           SELECT x.ctid FROM (
             SELECT t.ctid, (t.*)::text AS row_text, row_number() OVER (PARTITION BY (t.*)::text) AS copy
             FROM ${target} t WHERE (t.*)::text IN (${removed})) x
           JOIN (SELECT row_text, count(*) AS copies FROM (${removed}) r GROUP BY row_text) d
             ON d.row_text = x.row_text AND x.copy <= d.copies)`,
      );
    }
  }
  const where = filter ? ` AND (${filter.sql})` : '';
  statements.push(`INSERT INTO ${target} (${columnList(columns)}) SELECT ${columnList(columns)} FROM ${fragment.table} WHERE ${FLAG_COLUMN}${where}`);
  return statements;
}

/** Applies fragments in order: one round trip for the whole batch unless the filter has parameters. */
async function applyBatch(client: ClientBase, target: string, columns: readonly Column[], primaryKey: readonly Column[], fragments: readonly Fragment[], filter?: SqlFilter): Promise<void> {
  const statements = fragments.flatMap((f) => applyStatements(target, columns, primaryKey, f, filter));
  if (statements.length === 0) return;
  if (filter?.params?.length) {
    // Parameters need the extended protocol, which takes one statement at a time.
    for (const sql of statements) await client.query(sql, sql.startsWith('INSERT') ? [...filter.params] : []);
  } else {
    await client.query(statements.join(';\n'));
  }
}

/** Which of `ids` are registered objects that delete nothing (so applying them needs no DELETE). */
async function insertOnlyObjects(client: ClientBase, ids: readonly string[]): Promise<Set<string>> {
  const { rows } = await client.query<{ object_id: string }>(
    `SELECT object_id FROM ${META_SCHEMA}.objects WHERE object_id = ANY($1) AND rows_deleted = 0`,
    [ids],
  );
  return new Set(rows.map((r) => r.object_id));
}

/** Fails unless every object has its table here. */
export async function requireObjects(client: ClientBase, ids: readonly string[]): Promise<void> {
  const { rows } = await client.query<{ id: string }>(
    `SELECT id FROM unnest($1::text[]) AS id WHERE to_regclass('${META_SCHEMA}.' || quote_ident(id)) IS NULL`,
    [ids],
  );
  if (rows.length) {
    throw notFound(`object${rows.length === 1 ? '' : 's'} ${rows.map((r) => r.id).join(', ')}`, 'Pull the repository (or download the objects) from an engine that has them.');
  }
}

/**
 * Builds a table from objects: creates `target` with `columns`, applies the objects in order
 * and adds the primary key (after the leading objects that only insert, which loads faster).
 */
export async function materialize(client: ClientBase, target: TableRef, schema: TableShape, ids: readonly string[], options: { temporary?: boolean } = {}): Promise<void> {
  const { columns, primaryKey } = schema;
  await requireObjects(client, ids);
  const name = options.temporary ? `pg_temp.${ident(target.table)}` : qualified(target);
  await client.query(`CREATE ${options.temporary ? 'TEMP ' : ''}TABLE ${name} (${columns.map((c) => `${ident(c.name)} ${c.type}`).join(', ')})`);
  const insertOnly = await insertOnlyObjects(client, ids);
  const fragments = ids.map((id) => ({ table: objectTable(id), deletes: !insertOnly.has(id) }));
  const firstDelete = fragments.findIndex((f) => f.deletes);
  const leading = firstDelete < 0 ? fragments : fragments.slice(0, firstDelete);
  await applyBatch(client, name, columns, primaryKey, leading);
  if (primaryKey.length) await client.query(`ALTER TABLE ${name} ADD PRIMARY KEY (${columnList(primaryKey)})`);
  await applyBatch(client, name, columns, primaryKey, fragments.slice(leading.length));
}

/** Options of {@link storeFragment}. */
export interface StoreFragmentOptions {
  /** The table whose rows the fragment records. */
  readonly source: TableRef;
  /** The table to create for the fragment (it must not exist). */
  readonly target: TableRef;
  /**
   * Keys of the rows to upsert, each a list of primary key values in key order; their current
   * values are copied from the source. For a table without a primary key, whole rows (in column
   * order), stored as given. Values travel as text and are cast to the column types.
   */
  readonly upserted: ReadonlyArray<readonly unknown[]>;
  /** Keys of the rows to delete (whole rows for a table without a primary key). */
  readonly deleted: ReadonlyArray<readonly unknown[]>;
}

/**
 * Stores a fragment of a changed table in a new table: the source's columns plus `sg_ud_flag`,
 * keyed like the source. Keys are sent as one array per key column, so any number fits in one
 * statement (no bind-parameter limit). Returns how many rows of each kind it holds.
 */
export async function storeFragment(client: ClientBase, options: StoreFragmentOptions): Promise<{ upserted: number; deleted: number }> {
  return transaction(client, async () => {
    const info = await describeTable(client, options.source);
    const keyColumns = info.primaryKey.length ? info.primaryKey : info.columns;
    for (const key of [...options.upserted, ...options.deleted]) {
      if (key.length !== keyColumns.length) {
        throw invalidArgument(`a key of ${qualified(options.source)} has ${keyColumns.length} value${keyColumns.length === 1 ? '' : 's'} (${keyColumns.map((c) => c.name).join(', ')}), got ${JSON.stringify(key)}`);
      }
    }
    const target = qualified(options.target);
    await client.query(`CREATE TABLE ${target} (${objectColumnsSql(info.columns)}${info.primaryKey.length ? `, PRIMARY KEY (${columnList(info.primaryKey)})` : ''})`);
    const keysOf = (keys: ReadonlyArray<readonly unknown[]>) => keyColumns.map((_, i) => keys.map((key) => toText(key[i])));
    const unnested = `SELECT ${keyColumns.map((c, i) => `v.k${i + 1}::${c.type} AS k${i + 1}`).join(', ')}
      FROM unnest(${keyColumns.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS v(${keyColumns.map((_, i) => `k${i + 1}`).join(', ')})`;
    const upserted = info.primaryKey.length
      ? await client.query(
          `INSERT INTO ${target} SELECT ${columnList(info.columns, 't.')}, true FROM (${unnested}) k JOIN ${qualified(info.ref)} t ON ${keyJoin(info, 't', 'k')}`,
          keysOf(options.upserted),
        )
      : await client.query(`INSERT INTO ${target} SELECT k.*, true FROM (${unnested}) k`, keysOf(options.upserted));
    const deleted = await client.query(
      `INSERT INTO ${target} (${columnList(keyColumns)}, ${FLAG_COLUMN}) SELECT k.*, false FROM (${unnested}) k`,
      keysOf(options.deleted),
    );
    return { upserted: upserted.rowCount ?? 0, deleted: deleted.rowCount ?? 0 };
  });
}

/** A JavaScript value as the text PostgreSQL reads back into the column type. */
function toText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return `\\x${value.toString('hex')}`;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Options of {@link applyFragments}. */
export interface ApplyFragmentsOptions {
  /**
   * A condition on the fragments' rows: only upserted rows that satisfy it are written
   * (deletions always apply). Columns are named unqualified.
   */
  readonly filter?: SqlFilter;
}

/**
 * Applies fragments, in order, to an existing table: for each, deletes the rows whose keys it
 * holds, then inserts its upserted rows. With a primary key on the target, rows match by key;
 * without one, by whole row, deleting as many copies as the fragment deletes. A fragment is an
 * object id or any table of the fragment layout (e.g. from {@link storeFragment}). Without filter
 * parameters, the whole batch is sent as one multi-statement query.
 */
export async function applyFragments(client: ClientBase, fragments: ReadonlyArray<string | TableRef>, target: TableRef, options: ApplyFragmentsOptions = {}): Promise<void> {
  await transaction(client, async () => {
    const info = await describeTable(client, target);
    const ids = fragments.filter((f): f is string => typeof f === 'string');
    for (const id of ids) if (!isObjectId(id)) throw invalidArgument(`'${id}' is not an object id (o followed by 62 hex digits)`);
    await requireObjects(client, ids);
    // Unlike a checkout, the target may hold any rows: every fragment upserts.
    const batch = fragments.map((f) => ({ table: typeof f === 'string' ? objectTable(f) : qualified(f), deletes: true }));
    await applyBatch(client, qualified(target), info.columns, info.primaryKey, batch, options.filter);
  });
}

/** The registrations of objects, in id order (unknown ids are left out). */
export async function getObjectMeta(client: ClientBase, ids: readonly string[]): Promise<ObjectMeta[]> {
  const { rows } = await client.query(`SELECT * FROM ${META_SCHEMA}.objects WHERE object_id = ANY($1) ORDER BY object_id`, [ids]);
  return rows.map((r) => ({
    objectId: r.object_id,
    namespace: r.namespace,
    format: r.format,
    size: Number(r.size),
    created: r.created,
    insertionHash: r.insertion_hash,
    deletionHash: r.deletion_hash,
    rowsInserted: Number(r.rows_inserted),
    rowsDeleted: Number(r.rows_deleted),
    index: r.index,
  }));
}
