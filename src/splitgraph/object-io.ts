/**
 * Objects as streams, e.g. to keep them in files or object storage: one JSON header line (the
 * object's columns, key and registration), then one JSON array per row holding each column's
 * value as PostgreSQL text (null for NULL) and the flag. Text under the canonical settings
 * reads back to the same values on any PostgreSQL version or architecture, which binary COPY
 * does not promise.
 */
import * as readline from 'node:readline';
import type { ClientBase } from 'pg';
import { conflict, corruptObject, invalidArgument, notFound } from './errors';
import { getObjectMeta, type ObjectMeta } from './fragments';
import { hashRows, isObjectId, objectId, schemaHash, subtractHashes, temporaryObjectName } from './hashing';
import { FLAG_COLUMN, META_SCHEMA, ident, literal, objectTable, transaction } from './sql';
import { describeTable, forEachBatch, write, type TableShape } from './tables';

const FORMAT = 'splitgraph-object';
const VERSION = 1;
const BATCH_ROWS = 10_000;

interface Header {
  readonly format: typeof FORMAT;
  readonly version: number;
  readonly objectId: string;
  readonly columns: Array<{ name: string; type: string }>;
  readonly primaryKey: string[];
  readonly meta: Omit<ObjectMeta, 'created' | 'size'> & { created: string };
}

/** The shape of the table an object belongs to, read from the object table (minus the flag). */
export async function objectShape(client: ClientBase, id: string): Promise<TableShape> {
  const info = await describeTable(client, { schema: META_SCHEMA, table: id });
  const columns = info.columns.filter((c) => c.name !== FLAG_COLUMN);
  return { columns, primaryKey: info.primaryKey };
}

/** The shapes of many object tables in one catalog query (needs the canonical settings). */
export async function objectShapes(client: ClientBase, ids: readonly string[]): Promise<Map<string, TableShape>> {
  const { rows } = await client.query<{ id: string; name: string; type: string; position: string | null }>(
    `SELECT c.relname AS id, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, k.position
     FROM pg_class c
     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> $2
     LEFT JOIN LATERAL (SELECT key.position FROM pg_index i, unnest(i.indkey) WITH ORDINALITY AS key(attnum, position)
                        WHERE i.indrelid = c.oid AND i.indisprimary AND key.attnum = a.attnum) k ON true
     WHERE c.relnamespace = ${literal(META_SCHEMA)}::regnamespace AND c.relname = ANY($1)
     ORDER BY c.relname, a.attnum`,
    [ids, FLAG_COLUMN],
  );
  const shapes = new Map<string, TableShape>();
  for (const id of new Set(rows.map((r) => r.id))) {
    const own = rows.filter((r) => r.id === id);
    const columns = own.map((r, i) => ({ ordinal: i + 1, name: r.name, type: r.type, isPrimaryKey: r.position !== null }));
    const primaryKey = own
      .map((r, i) => ({ column: columns[i], position: Number(r.position) }))
      .filter(({ column }) => column.isPrimaryKey)
      .sort((a, b) => a.position - b.position)
      .map(({ column }) => column);
    shapes.set(id, { columns, primaryKey });
  }
  return shapes;
}

/**
 * Checks that an object table holds what its registration says: the hash of its upserted rows,
 * and the id that hash and the shape give. Needs the canonical settings.
 */
export async function verifyObject(client: ClientBase, table: string, meta: Pick<ObjectMeta, 'objectId' | 'insertionHash' | 'deletionHash'>, shape: TableShape): Promise<void> {
  const row = `ROW(${shape.columns.map((c) => ident(c.name)).join(', ')})::text`;
  const { hash } = await hashRows(client, row, `${table} WHERE ${FLAG_COLUMN}`);
  if (hash !== meta.insertionHash) throw corruptObject(meta.objectId, `its rows hash to ${hash}, but it was registered with ${meta.insertionHash}`);
  const id = objectId(subtractHashes(meta.insertionHash, meta.deletionHash), schemaHash(shape));
  if (id !== meta.objectId) throw corruptObject(meta.objectId, `its content and columns give the id ${id}`);
}

/** Writes a registered object to `stream` (see the module comment for the format). */
export async function dumpObject(client: ClientBase, id: string, stream: NodeJS.WritableStream): Promise<void> {
  if (!isObjectId(id)) throw invalidArgument(`'${id}' is not an object id (o followed by 62 hex digits)`);
  await transaction(client, async () => {
    const [meta] = await getObjectMeta(client, [id]);
    if (!meta) throw notFound(`object ${id}`, 'Only registered objects can be dumped.');
    const shape = await objectShape(client, id);
    const { size: _size, created, ...rest } = meta;
    const header: Header = {
      format: FORMAT,
      version: VERSION,
      objectId: id,
      columns: shape.columns.map(({ name, type }) => ({ name, type })),
      primaryKey: shape.primaryKey.map((c) => c.name),
      meta: { ...rest, created: created.toISOString() },
    };
    await write(stream, `${JSON.stringify(header)}\n`);
    const values = [...shape.columns.map((c) => `${ident(c.name)}::text`), `${FLAG_COLUMN}::text`].join(', ');
    const order = shape.primaryKey.length ? `ORDER BY ${shape.primaryKey.map((c) => ident(c.name)).join(', ')}` : '';
    await forEachBatch(client, `SELECT json_build_array(${values})::text AS line FROM ${objectTable(id)} ${order}`, [], BATCH_ROWS, async (rows) => {
      await write(stream, rows.map((r) => `${r.line}\n`).join(''));
    });
  });
}

/**
 * Reads an object written by {@link dumpObject} from `stream`, checks its content against its
 * id, and stores and registers it. An object that is already here is left as it is (objects
 * never change). Returns the object id.
 */
export async function loadObject(client: ClientBase, stream: NodeJS.ReadableStream): Promise<string> {
  const lines = readline.createInterface({ input: stream, crlfDelay: Infinity })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw invalidArgument('the object stream is empty');
  const header = parseHeader(first.value);
  const id = header.objectId;
  return transaction(client, async () => {
    const exists = await client.query(`SELECT to_regclass($1) IS NOT NULL AS found`, [objectTable(id)]);
    if (exists.rows[0].found) {
      const registered = await getObjectMeta(client, [id]);
      if (registered.length === 0) throw conflict(`object table ${objectTable(id)} exists but is not registered; drop it and load the object again`);
      return id;
    }
    const name = temporaryObjectName();
    const columns = [...header.columns.map((c) => `${ident(c.name)} ${c.type}`), `${FLAG_COLUMN} boolean NOT NULL`];
    await client.query(`CREATE TABLE ${objectTable(name)} (${columns.join(', ')})`);
    const casts = [...header.columns.map((c, i) => `(j->>${i})::${c.type}`), `(j->>${header.columns.length})::boolean`].join(', ');
    const insert = `INSERT INTO ${objectTable(name)} SELECT ${casts} FROM unnest($1::text[]) AS line, LATERAL (SELECT line::json AS j) parsed`;
    let batch: string[] = [];
    for (let next = await lines.next(); !next.done; next = await lines.next()) {
      if (next.value === '') continue;
      batch.push(next.value);
      if (batch.length === BATCH_ROWS) {
        await client.query(insert, [batch]);
        batch = [];
      }
    }
    if (batch.length) await client.query(insert, [batch]);
    if (header.primaryKey.length) await client.query(`ALTER TABLE ${objectTable(name)} ADD PRIMARY KEY (${header.primaryKey.map(ident).join(', ')})`);
    await verifyObject(client, objectTable(name), header.meta, await objectShape(client, name));
    await client.query(`ALTER TABLE ${objectTable(name)} RENAME TO ${ident(id)}`);
    await registerObject(client, { ...header.meta, created: new Date(header.meta.created) });
    return id;
  });
}

/** Registers an object whose table is in place, measuring its size here. */
export async function registerObject(client: ClientBase, meta: Omit<ObjectMeta, 'size'>): Promise<void> {
  await client.query(
    `INSERT INTO ${META_SCHEMA}.objects (object_id, namespace, format, size, created, insertion_hash, deletion_hash, rows_inserted, rows_deleted, index)
     VALUES ($1::text, $2, $3, pg_relation_size((${literal(`${META_SCHEMA}.`)} || quote_ident($1::text))::regclass), $4, $5, $6, $7, $8, $9)
     ON CONFLICT (object_id) DO NOTHING`,
    [meta.objectId, meta.namespace, meta.format, meta.created, meta.insertionHash, meta.deletionHash, meta.rowsInserted, meta.rowsDeleted, meta.index],
  );
}

function parseHeader(line: string): Header {
  let header: Header;
  try {
    header = JSON.parse(line);
  } catch {
    throw invalidArgument('the object stream does not start with a JSON header line; was it written by dumpObject?');
  }
  if (header.format !== FORMAT) throw invalidArgument(`the stream's format is '${String(header.format)}', expected '${FORMAT}'`);
  if (header.version !== VERSION) throw invalidArgument(`the stream's format version is ${header.version}; this engine reads version ${VERSION}`);
  if (!isObjectId(header.objectId)) throw invalidArgument(`the stream names '${header.objectId}', which is not an object id`);
  return header;
}
