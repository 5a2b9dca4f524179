/**
 * SQL plumbing shared by the engine: quoting, table references, and the transaction every engine
 * operation runs in (with the session settings that fix how values print as text).
 */
import { escapeIdentifier, escapeLiteral, type ClientBase } from 'pg';
import { failedTransaction, invalidArgument } from './errors';

/** Schema with the engine's metadata tables and its objects (one table per object). */
export const META_SCHEMA = 'splitgraph_meta';
/** Schema with the engine's SQL API functions (recreated by every initialize). */
export const API_SCHEMA = 'splitgraph_api';
/** Schema with the change log and the capture triggers' functions. */
export const AUDIT_SCHEMA = 'splitgraph_audit';
/** The boolean column every object carries: true = upsert this row, false = delete the row with this key. */
export const FLAG_COLUMN = 'sg_ud_flag';

/** A table, by schema and name (both unquoted). */
export interface TableRef {
  readonly schema: string;
  readonly table: string;
}

/** Double-quotes an identifier. */
export const ident = (name: string): string => escapeIdentifier(name);
/** Quotes a string literal. */
export const literal = (value: string): string => escapeLiteral(value);
/** `"schema"."table"`. */
export const qualified = (ref: TableRef): string => `${ident(ref.schema)}.${ident(ref.table)}`;
/** The qualified name of an object's table. */
export const objectTable = (objectId: string): string => `${ident(META_SCHEMA)}.${ident(objectId)}`;

/** PostgreSQL truncates longer identifiers, which would make two names one. */
export function checkIdentifier(name: string, what: string): void {
  if (!name) throw invalidArgument(`${what} is empty`);
  if (Buffer.byteLength(name) > 63) {
    throw invalidArgument(`${what} '${name}' is ${Buffer.byteLength(name)} bytes long; PostgreSQL names are at most 63 bytes`);
  }
}

/**
 * The settings under which every row is turned into text, by the capture triggers and by the
 * engine alike: row text is what gets hashed and stored, so it must not depend on the session.
 */
export const CANONICAL_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ['DateStyle', 'ISO, YMD'],
  ['IntervalStyle', 'postgres'],
  ['TimeZone', 'UTC'],
  ['extra_float_digits', '1'],
  ['bytea_output', 'hex'],
  ['lc_monetary', 'C'],
  // Engine SQL names every object it uses; this also makes format_type() qualify user types.
  ['search_path', 'pg_catalog, pg_temp'],
];

const PIN_SETTINGS = `SELECT ${CANONICAL_SETTINGS.map(([name, value]) => `set_config(${literal(name)}, ${literal(value)}, true)`).join(', ')}`;

/**
 * Runs `fn` in a transaction, by default with the canonical settings. A client that is already in
 * a transaction gets a savepoint instead, and its own settings back afterwards.
 */
export async function transaction<T>(client: ClientBase, fn: () => Promise<T>, options: { canonical?: boolean } = {}): Promise<T> {
  const canonical = options.canonical ?? true;
  const status = client.getTransactionStatus();
  if (status === 'E') throw failedTransaction();
  if (status !== 'T') {
    await client.query('BEGIN');
    try {
      if (canonical) await client.query(PIN_SETTINGS);
      const result = await fn();
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }
  // SET LOCAL outlives a released savepoint, so the caller's values are put back by hand.
  const saved = canonical
    ? (await client.query<{ name: string; value: string }>(
        `SELECT name, current_setting(name) AS value FROM unnest($1::text[]) AS name`,
        [CANONICAL_SETTINGS.map(([name]) => name)],
      )).rows
    : [];
  await client.query('SAVEPOINT splitgraph');
  try {
    if (canonical) await client.query(PIN_SETTINGS);
    const result = await fn();
    await client.query('RELEASE SAVEPOINT splitgraph');
    for (const { name, value } of saved) await client.query('SELECT set_config($1, $2, true)', [name, value]);
    return result;
  } catch (error) {
    await client.query('ROLLBACK TO SAVEPOINT splitgraph').catch(() => undefined);
    await client.query('RELEASE SAVEPOINT splitgraph').catch(() => undefined);
    throw error;
  }
}

/** Runs `fn` in a savepoint of the current transaction; returns undefined if it failed with `code`. */
export async function trySavepoint<T>(client: ClientBase, sqlState: string, fn: () => Promise<T>): Promise<T | undefined> {
  await client.query('SAVEPOINT splitgraph_try');
  try {
    const result = await fn();
    await client.query('RELEASE SAVEPOINT splitgraph_try');
    return result;
  } catch (error) {
    await client.query('ROLLBACK TO SAVEPOINT splitgraph_try');
    await client.query('RELEASE SAVEPOINT splitgraph_try');
    if ((error as { code?: string }).code === sqlState) return undefined;
    throw error;
  }
}
