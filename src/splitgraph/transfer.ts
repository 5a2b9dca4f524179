/**
 * Moving objects between engines with postgres_fdw: the local server reads or writes the remote
 * engine's object tables through foreign tables, so rows go server to server, not through Node.
 *
 * Each transfer creates its own foreign server, user mapping and schema inside the local
 * transaction and drops them before committing, so no credentials stay behind and a failed
 * transfer leaves nothing.
 */
import { randomBytes } from 'node:crypto';
import type { ClientBase } from 'pg';
import { invalidArgument, missingFdw, needsAutocommit, notFound } from './errors';
import { getObjectMeta, type ObjectMeta } from './fragments';
import { isObjectId, temporaryObjectName } from './hashing';
import { requireEngine } from './install';
import { objectShapes, registerObject, verifyObject } from './object-io';
import { API_SCHEMA, FLAG_COLUMN, META_SCHEMA, ident, literal, objectTable, transaction } from './sql';
import type { TableShape } from './tables';

/** How the *local server* reaches the remote one (postgres_fdw connects server to server). */
export interface FdwAddress {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  /** Needed unless the remote trusts the local server; PostgreSQL requires it for non-superusers. */
  readonly password?: string;
}

/** Another engine: a connection to it, and its address as the local server sees it. */
export interface RemoteEngine {
  /** A connection to the remote engine's database, outside any transaction. */
  readonly client: ClientBase;
  readonly fdw: FdwAddress;
}

/**
 * Mounts the remote's object tables `tables` as foreign tables in a new schema for `fn`, then
 * unmounts them. Runs inside the caller's local transaction.
 */
async function withMountedRemote<T>(local: ClientBase, address: FdwAddress, tables: readonly string[], fn: (schema: string) => Promise<T>): Promise<T> {
  const name = `sg_remote_${randomBytes(8).toString('hex')}`;
  await local.query(
    `CREATE SERVER ${name} FOREIGN DATA WRAPPER postgres_fdw
     OPTIONS (host ${literal(address.host)}, port ${literal(String(address.port))}, dbname ${literal(address.database)}, fetch_size '10000', batch_size '1000')`,
  );
  const password = address.password === undefined ? '' : `, password ${literal(address.password)}`;
  await local.query(`CREATE USER MAPPING FOR CURRENT_USER SERVER ${name} OPTIONS (user ${literal(address.user)}${password})`);
  await local.query(`CREATE SCHEMA ${name}`);
  await local.query(`IMPORT FOREIGN SCHEMA ${META_SCHEMA} LIMIT TO (${tables.map(ident).join(', ')}) FROM SERVER ${name} INTO ${name}`);
  const result = await fn(name);
  await local.query(`DROP SCHEMA ${name} CASCADE`);
  await local.query(`DROP SERVER ${name} CASCADE`);
  return result;
}

/** Transfers run on the local server, through postgres_fdw (which initializeEngine may not have been allowed to install). */
async function requireFdw(local: ClientBase): Promise<void> {
  const { rowCount } = await local.query(`SELECT 1 FROM pg_extension WHERE extname = 'postgres_fdw'`);
  if (!rowCount) throw missingFdw();
}

function checkIds(ids: readonly string[]): void {
  const bad = ids.filter((id) => !isObjectId(id));
  if (bad.length) throw invalidArgument(`not object ids (o followed by 62 hex digits): ${bad.join(', ')}`);
}

const columnsDdl = (shape: TableShape) => [...shape.columns.map((c) => `${ident(c.name)} ${c.type}`), `${FLAG_COLUMN} boolean NOT NULL`].join(', ');
const columnNames = (shape: TableShape) => [...shape.columns.map((c) => ident(c.name)), FLAG_COLUMN].join(', ');
const primaryKeyDdl = (shape: TableShape) => `PRIMARY KEY (${shape.primaryKey.map((c) => ident(c.name)).join(', ')})`;

/** Object metadata and shapes, failing if any object is not both registered and stored. */
async function readObjects(client: ClientBase, ids: readonly string[], where: string): Promise<{ metas: Map<string, ObjectMeta>; shapes: Map<string, TableShape> }> {
  return transaction(client, async () => {
    const metas = new Map((await getObjectMeta(client, ids)).map((m) => [m.objectId, m]));
    const shapes = await objectShapes(client, ids);
    const missing = ids.filter((id) => !metas.has(id) || !shapes.has(id));
    if (missing.length) throw notFound(`object${missing.length === 1 ? '' : 's'} ${missing.join(', ')} on ${where}`, 'Check the ids, or push them there first.');
    return { metas, shapes };
  });
}

/** The ids among `ids` whose objects are stored and registered on this engine. */
async function presentObjects(client: ClientBase, ids: readonly string[]): Promise<Set<string>> {
  const { rows } = await client.query<{ object_id: string }>(
    `SELECT object_id FROM ${META_SCHEMA}.objects
     WHERE object_id = ANY($1) AND to_regclass(${literal(`${META_SCHEMA}.`)} || quote_ident(object_id)) IS NOT NULL`,
    [ids],
  );
  return new Set(rows.map((r) => r.object_id));
}

/**
 * Copies objects from a remote engine to this one, checking each one's content against its id.
 * Objects already here are skipped. Returns the ids that were downloaded.
 */
export async function downloadObjects(local: ClientBase, remote: RemoteEngine, ids: readonly string[]): Promise<string[]> {
  checkIds(ids);
  await requireEngine(local, 'the local database');
  await requireEngine(remote.client, 'the remote engine');
  const present = await presentObjects(local, ids);
  const wanted = [...new Set(ids)].filter((id) => !present.has(id));
  if (wanted.length === 0) return [];
  await requireFdw(local);
  const { metas, shapes } = await readObjects(remote.client, wanted, 'the remote engine');
  await transaction(local, () =>
    withMountedRemote(local, remote.fdw, wanted, async (schema) => {
      for (const id of wanted) {
        const shape = shapes.get(id)!;
        const name = temporaryObjectName();
        await local.query(`CREATE TABLE ${objectTable(name)} (${columnsDdl(shape)})`);
        await local.query(`INSERT INTO ${objectTable(name)} SELECT ${columnNames(shape)} FROM ${schema}.${ident(id)}`);
        // Foreign tables carry no keys: the key comes from the remote's catalog.
        if (shape.primaryKey.length) await local.query(`ALTER TABLE ${objectTable(name)} ADD ${primaryKeyDdl(shape)}`);
        await verifyObject(local, objectTable(name), metas.get(id)!, shape);
        const exists = await local.query(`SELECT to_regclass($1) IS NOT NULL AS found`, [objectTable(id)]);
        if (exists.rows[0].found) await local.query(`DROP TABLE ${objectTable(name)}`);
        else await local.query(`ALTER TABLE ${objectTable(name)} RENAME TO ${ident(id)}`);
        await registerObject(local, metas.get(id)!);
      }
    }),
  );
  return wanted;
}

/**
 * Copies objects from this engine to a remote one. Objects the remote already has are skipped.
 * The remote client must not be in a transaction: the tables the rows go into are created and
 * committed there first, since postgres_fdw's own session sees only committed tables. Returns
 * the ids that were uploaded.
 */
export async function uploadObjects(local: ClientBase, remote: RemoteEngine, ids: readonly string[]): Promise<string[]> {
  checkIds(ids);
  if (remote.client.getTransactionStatus() === 'T') throw needsAutocommit('uploading objects');
  await requireEngine(local, 'the local database');
  await requireEngine(remote.client, 'the remote engine');
  const unique = [...new Set(ids)];
  const { metas, shapes } = await readObjects(local, unique, 'the local engine');
  const remotePresent = await presentObjects(remote.client, unique);
  const wanted = unique.filter((id) => !remotePresent.has(id));
  if (wanted.length === 0) return [];
  await requireFdw(local);
  // Rows land in staging tables, renamed to the object ids only once complete.
  const staging = new Map(wanted.map((id) => [id, temporaryObjectName()]));
  await transaction(remote.client, async () => {
    for (const id of wanted) await remote.client.query(`CREATE TABLE ${objectTable(staging.get(id)!)} (${columnsDdl(shapes.get(id)!)})`);
  });
  try {
    await transaction(local, () =>
      withMountedRemote(local, remote.fdw, [...staging.values()], async (schema) => {
        for (const id of wanted) {
          const shape = shapes.get(id)!;
          await local.query(`INSERT INTO ${schema}.${ident(staging.get(id)!)} SELECT ${columnNames(shape)} FROM ${objectTable(id)}`);
        }
      }),
    );
    await transaction(remote.client, async () => {
      for (const id of wanted) {
        const shape = shapes.get(id)!;
        const table = objectTable(staging.get(id)!);
        if (shape.primaryKey.length) await remote.client.query(`ALTER TABLE ${table} ADD ${primaryKeyDdl(shape)}`);
        await verifyObject(remote.client, table, metas.get(id)!, shape);
        const exists = await remote.client.query(`SELECT to_regclass($1) IS NOT NULL AS found`, [objectTable(id)]);
        if (exists.rows[0].found) await remote.client.query(`DROP TABLE ${table}`);
        else await remote.client.query(`ALTER TABLE ${table} RENAME TO ${ident(id)}`);
        const meta = metas.get(id)!;
        await remote.client.query(
          `SELECT ${API_SCHEMA}.add_object($1, $2, $3, pg_relation_size($4::regclass), $5, $6, $7, $8, $9, $10)`,
          [id, meta.namespace, meta.format, objectTable(id), meta.created, meta.insertionHash, meta.deletionHash, meta.rowsInserted, meta.rowsDeleted, meta.index],
        );
      }
    });
  } finally {
    // Whatever failed, leave no staging tables behind on the remote.
    for (const table of staging.values()) await remote.client.query(`DROP TABLE IF EXISTS ${objectTable(table)}`).catch(() => undefined);
  }
  return wanted;
}
