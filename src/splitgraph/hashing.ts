/**
 * Content addressing. A row hashes to the SHA-256 of its text (under the canonical settings);
 * a set of rows hashes to the lane-wise sum of its row hashes, read as four 64-bit unsigned lanes
 * added modulo 2^64. Sums can be added and subtracted, so an object's content hash is
 * (hash of the rows it writes) − (hash of the old rows they replace or delete), and the content
 * hashes of a table's objects add up to the hash of the table. An object's id is derived from its
 * content hash and the table's column list, so identical content gets the identical id.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ClientBase } from 'pg';
import { API_SCHEMA } from './sql';
import { encodeShape, type TableShape } from './tables';

/** The hash of no rows. */
export const ZERO_HASH = '0'.repeat(64);
const LANES = 4;
const MODULUS = 1n << 64n;

/** The sum of row hashes and the number of rows summed. */
export interface RowSetHash {
  readonly hash: string;
  readonly rows: number;
}

/**
 * Hashes rows on the server: `rowText` is an SQL expression for a row's text, evaluated over
 * `from` (e.g. `ROW(a, b)::text` over `t WHERE …`). Needs the canonical settings.
 */
export async function hashRows(client: ClientBase, rowText: string, from: string, params: unknown[] = []): Promise<RowSetHash> {
  const sums = Array.from({ length: LANES }, (_, lane) => `sum(${API_SCHEMA}.digest_lane(digest, ${lane}))::text AS lane${lane}`).join(', ');
  // OFFSET 0 keeps the planner from computing the digest once per lane.
  const { rows } = await client.query(
    `SELECT ${sums}, count(*) AS rows FROM (SELECT ${API_SCHEMA}.row_digest(${rowText}) AS digest FROM ${from} OFFSET 0) hashed`,
    params,
  );
  const lanes = Array.from({ length: LANES }, (_, lane) => BigInt(rows[0][`lane${lane}`] ?? 0));
  return { hash: fromLanes(lanes), rows: Number(rows[0].rows) };
}

/** `a + b`, lane-wise. */
export function addHashes(a: string, b: string): string {
  return fromLanes(toLanes(a).map((lane, i) => lane + toLanes(b)[i]));
}

/** `a − b`, lane-wise. */
export function subtractHashes(a: string, b: string): string {
  return fromLanes(toLanes(a).map((lane, i) => lane - toLanes(b)[i]));
}

function toLanes(hash: string): bigint[] {
  return Array.from({ length: LANES }, (_, i) => BigInt(`0x${hash.slice(i * 16, i * 16 + 16)}`));
}

function fromLanes(lanes: bigint[]): string {
  return lanes.map((lane) => (((lane % MODULUS) + MODULUS) % MODULUS).toString(16).padStart(16, '0')).join('');
}

/** The hash of a table's shape: column positions, names, types, and key membership and order. */
export function schemaHash(shape: TableShape): string {
  return createHash('sha256').update(JSON.stringify(encodeShape(shape))).digest('hex');
}

/** An object's id: `o` + 62 hex digits of SHA-256(content hash + schema hash), 63 characters in all. */
export function objectId(contentHash: string, columnsHash: string): string {
  return `o${createHash('sha256').update(contentHash + columnsHash).digest('hex').slice(0, 62)}`;
}

/** A name for an object table whose content is not hashed yet. */
export function temporaryObjectName(): string {
  return `o${randomBytes(31).toString('hex')}`;
}

/** A new image hash: images are not content-addressed, only named uniquely. */
export function newImageHash(): string {
  return randomBytes(32).toString('hex');
}

/** Whether `id` has the form of an object id. */
export const isObjectId = (id: string): boolean => /^o[0-9a-f]{62}$/.test(id);
