/**
 * Repositories: versioned schemas. A repository `namespace/repository` is checked out into the
 * schema of that name (just `repository` without a namespace); its history is a tree of images,
 * each a list of table versions (a shape and the objects to apply), and the tag `HEAD` names the
 * image the schema was last checked out at or committed as.
 */
import type { ClientBase } from 'pg';
import { conflict, invalidArgument, notFound, pendingChanges, uncommittedTable } from './errors';
import { countChanges, loadComparedChanges, loadLoggedChanges, readChanges, type ChangeCounts, type RowChange } from './changes';
import { materialize, storePatch, storeSnapshot } from './fragments';
import { ZERO_HASH, newImageHash } from './hashing';
import { requireEngine } from './install';
import { API_SCHEMA, META_SCHEMA, checkIdentifier, ident, qualified, transaction, type TableRef } from './sql';
import {
  checkVersionable, decodeShape, describeTable, encodeShape, listTables, sameShape,
  type EncodedShape, type TableInfo, type TableShape,
} from './tables';
import { countPending, forgetDroppedTables, resetTracking, trackingState, untrackTable, type PendingCounts } from './tracking';

/** A repository: `namespace/repository`, or just `repository`. */
export interface RepositoryRef {
  /** @default '' - no namespace */
  readonly namespace?: string;
  readonly repository: string;
}

/** An image: a version of a repository. */
export interface Image {
  readonly imageHash: string;
  readonly parentId: string | null;
  readonly created: Date;
  readonly comment: string | null;
  /** Tags naming it, `HEAD` included. */
  readonly tags: string[];
}

/** A table version in an image. */
export interface ImageTable {
  readonly table: string;
  readonly shape: TableShape;
  /** The objects to apply, in order, to an empty table. */
  readonly objectIds: string[];
}

/** The tag naming the image a repository's schema was checked out at or last committed as. */
export const HEAD = 'HEAD';
/** Default rows per object when a table is stored whole. */
export const DEFAULT_CHUNK_ROWS = 100_000;

/** The schema a repository is checked out into. */
export function repositorySchema(repo: RepositoryRef): string {
  return repo.namespace ? `${repo.namespace}/${repo.repository}` : repo.repository;
}

const ns = (repo: RepositoryRef) => repo.namespace ?? '';
const describeRepo = (repo: RepositoryRef) => `repository ${repositorySchema(repo)}`;

function checkRepository(repo: RepositoryRef): string {
  if (!repo.repository) throw invalidArgument('the repository name is empty');
  if (repo.namespace?.includes('/') || repo.repository.includes('/')) {
    throw invalidArgument(`'${repositorySchema(repo)}': namespace and repository names may not contain '/'`);
  }
  const schema = repositorySchema(repo);
  checkIdentifier(schema, 'the repository schema');
  return schema;
}

/** The image a tag or (a unique prefix of) an image hash names. */
export async function resolveImage(client: ClientBase, repo: RepositoryRef, ref: string): Promise<string> {
  const { rows } = await client.query<{ image_hash: string; by_tag: boolean }>(
    `SELECT image_hash, true AS by_tag FROM ${META_SCHEMA}.tags WHERE namespace = $1 AND repository = $2 AND tag = $3
     UNION ALL
     SELECT image_hash, false FROM ${META_SCHEMA}.images WHERE namespace = $1 AND repository = $2 AND image_hash LIKE $4 || '%'
     ORDER BY by_tag DESC LIMIT 3`,
    [ns(repo), repo.repository, ref, /^[0-9a-f]+$/.test(ref) ? ref : '-'],
  );
  if (rows[0]?.by_tag) return rows[0].image_hash;
  if (rows.length === 1) return rows[0].image_hash;
  if (rows.length > 1) throw invalidArgument(`'${ref}' is the start of several image hashes of ${describeRepo(repo)}; give more of the hash`);
  throw notFound(`image or tag '${ref}' of ${describeRepo(repo)}`, 'List the images with listImages() or log().');
}

async function headOf(client: ClientBase, repo: RepositoryRef, lock = false): Promise<string | null> {
  const { rows } = await client.query(
    `SELECT image_hash FROM ${META_SCHEMA}.tags WHERE namespace = $1 AND repository = $2 AND tag = '${HEAD}'${lock ? ' FOR UPDATE' : ''}`,
    [ns(repo), repo.repository],
  );
  return rows[0]?.image_hash ?? null;
}

/** The table versions of an image, by table name. */
export async function getImageTables(client: ClientBase, repo: RepositoryRef, imageHash: string): Promise<Map<string, ImageTable>> {
  const { rows } = await client.query<{ table_name: string; table_schema: EncodedShape; object_ids: string[] }>(
    `SELECT * FROM ${API_SCHEMA}.get_tables($1, $2, $3)`,
    [ns(repo), repo.repository, imageHash],
  );
  return new Map(rows.map((r) => [r.table_name, { table: r.table_name, shape: decodeShape(r.table_schema), objectIds: r.object_ids }]));
}

async function addImage(client: ClientBase, repo: RepositoryRef, imageHash: string, parentId: string | null, comment: string | null): Promise<void> {
  await client.query(
    `INSERT INTO ${META_SCHEMA}.images (namespace, repository, image_hash, parent_id, created, comment) VALUES ($1, $2, $3, $4, now() AT TIME ZONE 'UTC', $5)`,
    [ns(repo), repo.repository, imageHash, parentId, comment],
  );
}

async function setTag(client: ClientBase, repo: RepositoryRef, imageHash: string, tag: string): Promise<void> {
  await client.query(
    `INSERT INTO ${META_SCHEMA}.tags VALUES ($1, $2, $3, $4) ON CONFLICT (namespace, repository, tag) DO UPDATE SET image_hash = excluded.image_hash`,
    [ns(repo), repo.repository, imageHash, tag],
  );
}

/** Whether the repository has any image on this engine. */
export async function repositoryExists(client: ClientBase, repo: RepositoryRef): Promise<boolean> {
  const { rows } = await client.query(`SELECT EXISTS (SELECT 1 FROM ${META_SCHEMA}.images WHERE namespace = $1 AND repository = $2) AS found`, [ns(repo), repo.repository]);
  return rows[0].found as boolean;
}

/** The repositories on this engine. */
export async function listRepositories(client: ClientBase): Promise<RepositoryRef[]> {
  const { rows } = await client.query(`SELECT DISTINCT namespace, repository FROM ${META_SCHEMA}.images ORDER BY 1, 2`);
  return rows.map((r) => (r.namespace ? { namespace: r.namespace, repository: r.repository } : { repository: r.repository }));
}

/**
 * Creates a repository: its schema (if missing) and an empty first image (hash of 64 zeros),
 * checked out. Tables already in the schema are stored at the first commit.
 * Fails with a `conflict` error if the repository exists.
 */
export async function initRepository(client: ClientBase, repo: RepositoryRef): Promise<string> {
  const schema = checkRepository(repo);
  return transaction(client, async () => {
    await requireEngine(client);
    if (await repositoryExists(client, repo)) throw conflict(`${describeRepo(repo)} exists already; check it out, or delete it first`);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`);
    await addImage(client, repo, ZERO_HASH, null, null);
    await setTag(client, repo, ZERO_HASH, HEAD);
    return ZERO_HASH;
  });
}

/** How a commit stores a table. */
export type TableCommit = 'unchanged' | 'patch' | 'snapshot';

/**
 * How the next commit will store a table: `snapshot` (whole, as base objects) when it is new,
 * its shape differs from HEAD's, it was truncated, or its log cannot be trusted (untracked,
 * a trigger dropped or disabled, columns dropped and re-added…); `patch` when its log has
 * changes; `unchanged` otherwise.
 */
async function planTable(client: ClientBase, info: TableInfo, previous: ImageTable | undefined, pending: PendingCounts): Promise<TableCommit> {
  if (!previous || !sameShape(previous.shape, info) || pending.truncated) return 'snapshot';
  if ((await trackingState(client, info.oid)) !== 'reliable') return 'snapshot';
  return pending.added + pending.removed + pending.updated > 0 ? 'patch' : 'unchanged';
}

/** Options of {@link commit}. */
export interface CommitOptions {
  /** A message stored with the image. */
  readonly comment?: string;
  /**
   * Store every table whole, as new base objects, instead of adding patches (compacts history:
   * checkouts then apply fewer objects).
   * @default false
   */
  readonly snapshot?: boolean;
  /** Rows per object when a table is stored whole. @default 100000 */
  readonly chunkRows?: number;
}

/** What a commit did. */
export interface CommitResult {
  readonly imageHash: string;
  /** How each table was stored. */
  readonly tables: Record<string, TableCommit>;
}

/**
 * Commits a repository's schema as a new image, child of HEAD, and moves HEAD to it. Each table
 * is stored by {@link planTable}'s rule; objects with the same content as existing ones are
 * shared. While it runs, the schema's tables can be read but not written (SHARE ROW EXCLUSIVE),
 * so no write can fall between reading the log and emptying it.
 */
export async function commit(client: ClientBase, repo: RepositoryRef, options: CommitOptions = {}): Promise<CommitResult> {
  const schema = checkRepository(repo);
  const chunkRows = options.chunkRows ?? DEFAULT_CHUNK_ROWS;
  if (!Number.isInteger(chunkRows) || chunkRows < 1) throw invalidArgument(`chunkRows must be a positive integer, got ${chunkRows}`);
  return transaction(client, async () => {
    await requireEngine(client);
    const head = await headOf(client, repo, true);
    if (head === null) throw notFound(`a checked-out ${describeRepo(repo)} (no HEAD)`, 'Create it with initRepository() or check out an image first.');
    const names = await listTables(client, schema);
    for (const table of names) await client.query(`LOCK TABLE ${qualified({ schema, table })} IN SHARE ROW EXCLUSIVE MODE`);
    const previous = await getImageTables(client, repo, head);
    const imageHash = newImageHash();
    await addImage(client, repo, imageHash, head, options.comment ?? null);
    const tables: Record<string, TableCommit> = {};
    for (const table of names) {
      const info = await describeTable(client, { schema, table });
      checkVersionable(info);
      const before = previous.get(table);
      let plan = options.snapshot ? 'snapshot' : await planTable(client, info, before, await countPending(client, info.oid));
      let objectIds: string[];
      if (plan === 'snapshot') {
        objectIds = await storeSnapshot(client, info, ns(repo), chunkRows);
      } else if (plan === 'patch') {
        await loadLoggedChanges(client, info);
        const patch = await storePatch(client, info, ns(repo));
        if (patch === null) plan = 'unchanged';
        objectIds = patch === null ? before!.objectIds : [...before!.objectIds, patch];
      } else {
        objectIds = before!.objectIds;
      }
      tables[table] = plan;
      await client.query(
        `INSERT INTO ${META_SCHEMA}.tables VALUES ($1, $2, $3, $4, $5, $6)`,
        [ns(repo), repo.repository, imageHash, table, JSON.stringify(encodeShape(info)), objectIds],
      );
      await resetTracking(client, info);
    }
    await forgetDroppedTables(client);
    await setTag(client, repo, imageHash, HEAD);
    return { imageHash, tables };
  });
}

/** Options of {@link checkout}. */
export interface CheckoutOptions {
  /**
   * Check out even over pending changes and tables that are not committed, losing them.
   * @default false - refused with a `pending-changes` error
   */
  readonly force?: boolean;
}

/**
 * Checks out an image (by tag or hash) into the repository's schema, creating the schema if
 * needed: each table is rebuilt from its objects (tables whose version and contents are already
 * the image's are kept), tables the image lacks are dropped, and the tables are tracked.
 * Returns the image hash, now HEAD.
 */
export async function checkout(client: ClientBase, repo: RepositoryRef, ref: string, options: CheckoutOptions = {}): Promise<string> {
  const schema = checkRepository(repo);
  return transaction(client, async () => {
    await requireEngine(client);
    const imageHash = await resolveImage(client, repo, ref);
    const head = await headOf(client, repo, true);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`);
    const existing = await listTables(client, schema);
    for (const table of existing) await client.query(`LOCK TABLE ${qualified({ schema, table })} IN ACCESS EXCLUSIVE MODE`);
    const headTables = head ? await getImageTables(client, repo, head) : new Map<string, ImageTable>();
    // A table is "clean" when it is exactly HEAD's version: reliably tracked with nothing pending.
    const clean = new Set<string>();
    let pendingRows = 0;
    for (const table of existing) {
      const info = await describeTable(client, { schema, table });
      const pending = await countPending(client, info.oid);
      const rows = pending.added + pending.removed + pending.updated;
      pendingRows += rows;
      if ((await planTable(client, info, headTables.get(table), pending)) === 'unchanged') clean.add(table);
      else if (!options.force && rows === 0) throw uncommittedTable(qualified(info.ref));
    }
    if (pendingRows > 0 && !options.force) {
      throw pendingChanges(describeRepo(repo), pendingRows, 'Commit them, or pass { force: true } to discard them.');
    }
    const target = await getImageTables(client, repo, imageHash);
    for (const table of existing) {
      const keep = clean.has(table) && sameVersion(headTables.get(table), target.get(table));
      if (keep) continue;
      const info = await describeTable(client, { schema, table });
      await untrackTable(client, info);
      await client.query(`DROP TABLE ${qualified(info.ref)}`);
    }
    for (const [table, version] of target) {
      const ref: TableRef = { schema, table };
      if (clean.has(table) && sameVersion(headTables.get(table), version)) continue;
      await materialize(client, ref, version.shape, version.objectIds);
      await resetTracking(client, await describeTable(client, ref));
    }
    await forgetDroppedTables(client);
    await setTag(client, repo, imageHash, HEAD);
    return imageHash;
  });
}

const sameVersion = (a: ImageTable | undefined, b: ImageTable | undefined) =>
  a !== undefined && b !== undefined && sameShape(a.shape, b.shape) && a.objectIds.join() === b.objectIds.join();

/** Tags an image (by tag or hash). `HEAD` is reserved. Moves the tag if it exists. */
export async function tagImage(client: ClientBase, repo: RepositoryRef, ref: string, tag: string): Promise<string> {
  checkRepository(repo);
  if (tag === HEAD) throw invalidArgument(`'${HEAD}' is set by commit and checkout; pick another tag name`);
  if (!tag) throw invalidArgument('the tag name is empty');
  return transaction(client, async () => {
    await requireEngine(client);
    const imageHash = await resolveImage(client, repo, ref);
    await setTag(client, repo, imageHash, tag);
    return imageHash;
  });
}

/** Deletes a tag (not `HEAD`); a missing tag is fine. */
export async function deleteTag(client: ClientBase, repo: RepositoryRef, tag: string): Promise<void> {
  if (tag === HEAD) throw invalidArgument(`'${HEAD}' cannot be deleted; check out or delete the repository instead`);
  await transaction(client, async () => {
    await requireEngine(client);
    await client.query(`DELETE FROM ${META_SCHEMA}.tags WHERE namespace = $1 AND repository = $2 AND tag = $3`, [ns(repo), repo.repository, tag]);
  });
}

async function readImages(client: ClientBase, repo: RepositoryRef): Promise<Image[]> {
  const { rows } = await client.query(
    `SELECT i.image_hash, i.parent_id, i.created, i.comment,
            coalesce(array_agg(t.tag ORDER BY t.tag) FILTER (WHERE t.tag IS NOT NULL), '{}') AS tags
     FROM ${META_SCHEMA}.images i
     LEFT JOIN ${META_SCHEMA}.tags t USING (namespace, repository, image_hash)
     WHERE i.namespace = $1 AND i.repository = $2
     GROUP BY i.image_hash, i.parent_id, i.created, i.comment
     ORDER BY i.created, i.image_hash`,
    [ns(repo), repo.repository],
  );
  return rows.map((r) => ({ imageHash: r.image_hash, parentId: r.parent_id, created: r.created, comment: r.comment, tags: r.tags }));
}

/** All images of a repository, oldest first, with their tags. */
export async function listImages(client: ClientBase, repo: RepositoryRef): Promise<Image[]> {
  return transaction(client, async () => {
    await requireEngine(client);
    return readImages(client, repo);
  });
}

/** The history of an image (default HEAD): the image and its ancestors, newest first. */
export async function log(client: ClientBase, repo: RepositoryRef, ref: string = HEAD): Promise<Image[]> {
  return transaction(client, async () => {
    await requireEngine(client);
    const images = new Map((await readImages(client, repo)).map((i) => [i.imageHash, i]));
    const history: Image[] = [];
    for (let hash: string | null = await resolveImage(client, repo, ref); hash !== null && images.has(hash); hash = images.get(hash)!.parentId) {
      history.push(images.get(hash)!);
    }
    return history;
  });
}

/** A table's state in {@link status}. */
export interface TableStatus {
  readonly table: string;
  /** How the next commit would store it (`removed`: it is in HEAD but no longer in the schema). */
  readonly next: TableCommit | 'removed';
  /** Its logged changes (zero when untracked). */
  readonly pending: PendingCounts;
}

/** What {@link status} reports. */
export interface RepositoryStatus {
  readonly schema: string;
  /** The checked-out image, or null when the repository is not checked out. */
  readonly head: string | null;
  readonly tables: TableStatus[];
  /** Whether a commit now would differ from HEAD (it may still find logged changes to cancel out). */
  readonly changed: boolean;
}

/** The checked-out image of a repository and, per table, what a commit would do. */
export async function status(client: ClientBase, repo: RepositoryRef): Promise<RepositoryStatus> {
  const schema = checkRepository(repo);
  return transaction(client, async () => {
    await requireEngine(client);
    const head = await headOf(client, repo);
    const headTables = head ? await getImageTables(client, repo, head) : new Map<string, ImageTable>();
    const names = await listTables(client, schema);
    const tables: TableStatus[] = [];
    for (const table of names) {
      const info = await describeTable(client, { schema, table });
      const pending = await countPending(client, info.oid);
      tables.push({ table, next: await planTable(client, info, headTables.get(table), pending), pending });
    }
    for (const table of headTables.keys()) {
      if (!names.includes(table)) tables.push({ table, next: 'removed', pending: { added: 0, removed: 0, updated: 0, truncated: false } });
    }
    tables.sort((a, b) => (a.table < b.table ? -1 : 1));
    return { schema, head, tables, changed: tables.some((t) => t.next !== 'unchanged') };
  });
}

/** A table's difference in {@link diff}. */
export interface TableDiff extends ChangeCounts {
  readonly table: string;
  /** `added`/`removed`: only in the schema / only in the image; `schema-changed`: columns differ (no row counts). */
  readonly status: 'unchanged' | 'modified' | 'added' | 'removed' | 'schema-changed';
  /** The changed rows, when asked for. */
  readonly rows?: RowChange[];
}

/** Options of {@link diff}. */
export interface DiffOptions {
  /** The image to compare the schema with, by tag or hash. @default 'HEAD' */
  readonly against?: string;
  /** Only this table. */
  readonly table?: string;
  /** Also return the changed rows. @default false */
  readonly rows?: boolean;
}

/**
 * How the repository's schema differs from an image (by default HEAD, i.e. its pending changes),
 * per table. Against HEAD the change log is used where it is reliable; otherwise the image's
 * version is rebuilt in a temporary table and compared row by row.
 */
export async function diff(client: ClientBase, repo: RepositoryRef, options: DiffOptions = {}): Promise<TableDiff[]> {
  const schema = checkRepository(repo);
  return transaction(client, async () => {
    await requireEngine(client);
    const against = await resolveImage(client, repo, options.against ?? HEAD);
    const isHead = against === (await headOf(client, repo));
    const image = await getImageTables(client, repo, against);
    const live = await listTables(client, schema);
    const names = [...new Set([...live, ...image.keys()])].filter((t) => options.table === undefined || t === options.table).sort();
    const result: TableDiff[] = [];
    for (const table of names) {
      const version = image.get(table);
      await client.query(`DROP TABLE IF EXISTS pg_temp.sg_old`);
      if (!live.includes(table)) {
        await materialize(client, { schema: 'pg_temp', table: 'sg_old' }, version!.shape, version!.objectIds, { temporary: true });
        const { rows } = await client.query(`SELECT to_jsonb(o.*) AS row FROM pg_temp.sg_old o`);
        const changes: RowChange[] = rows.map((r) => ({ kind: 'delete', key: keyOf(version!.shape, r.row), oldRow: r.row, newRow: null }));
        result.push({ table, status: 'removed', inserted: 0, deleted: changes.length, updated: 0, ...(options.rows ? { rows: changes } : {}) });
        continue;
      }
      const info = await describeTable(client, { schema, table });
      if (version && !sameShape(version.shape, info)) {
        result.push({ table, status: 'schema-changed', inserted: 0, deleted: 0, updated: 0 });
        continue;
      }
      const pending = await countPending(client, info.oid);
      if (version && isHead && (await planTable(client, info, version, pending)) !== 'snapshot') {
        await loadLoggedChanges(client, info);
      } else if (version) {
        await materialize(client, { schema: 'pg_temp', table: 'sg_old' }, version.shape, version.objectIds, { temporary: true });
        await loadComparedChanges(client, info, 'pg_temp.sg_old');
      } else {
        await client.query(`CREATE TEMP TABLE sg_old (LIKE ${qualified(info.ref)})`);
        await loadComparedChanges(client, info, 'pg_temp.sg_old');
      }
      const counts = await countChanges(client, info);
      const changed = counts.inserted + counts.deleted + counts.updated > 0;
      result.push({
        table,
        status: !version ? 'added' : changed ? 'modified' : 'unchanged',
        ...counts,
        ...(options.rows ? { rows: await readChanges(client, info) } : {}),
      });
    }
    await client.query(`DROP TABLE IF EXISTS pg_temp.sg_old`);
    return result;
  });
}

function keyOf(shape: TableShape, row: Record<string, unknown>): Record<string, unknown> {
  const key = shape.primaryKey.length ? shape.primaryKey : shape.columns;
  return Object.fromEntries(key.map((c) => [c.name, row[c.name]]));
}

/** Options of {@link deleteRepository}. */
export interface DeleteRepositoryOptions {
  /** Keep the checked-out schema and its tables (untracked). @default false - drop the schema */
  readonly keepSchema?: boolean;
}

/**
 * Deletes a repository's images, tags and table versions from this engine, and its schema
 * unless told to keep it. Objects stay (other images may share them): see {@link cleanupObjects}.
 */
export async function deleteRepository(client: ClientBase, repo: RepositoryRef, options: DeleteRepositoryOptions = {}): Promise<void> {
  const schema = checkRepository(repo);
  await transaction(client, async () => {
    await requireEngine(client);
    for (const table of await listTables(client, schema)) await untrackTable(client, await describeTable(client, { schema, table }));
    if (!options.keepSchema) await client.query(`DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE`);
    await client.query(`DELETE FROM ${META_SCHEMA}.images WHERE namespace = $1 AND repository = $2`, [ns(repo), repo.repository]);
  });
}

/** Deletes the objects no table version uses any more; returns their ids. */
export async function cleanupObjects(client: ClientBase): Promise<string[]> {
  return transaction(client, async () => {
    await requireEngine(client);
    // New table versions must not start using an object while it is being deleted.
    await client.query(`LOCK TABLE ${META_SCHEMA}.tables IN SHARE MODE`);
    const { rows } = await client.query<{ object_id: string }>(
      `DELETE FROM ${META_SCHEMA}.objects o
       WHERE NOT EXISTS (SELECT 1 FROM ${META_SCHEMA}.tables t WHERE t.object_ids @> ARRAY[o.object_id]::varchar[])
       RETURNING object_id`,
    );
    for (const { object_id } of rows) await client.query(`DROP TABLE IF EXISTS ${META_SCHEMA}.${ident(object_id)}`);
    return rows.map((r) => r.object_id).sort();
  });
}
