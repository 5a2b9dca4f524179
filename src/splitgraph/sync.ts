/**
 * Push and pull: copying a repository's images, table versions, tags and objects between two
 * engines. Metadata goes through each engine's SQL API; objects go server to server over
 * postgres_fdw (transfer.ts). Pulling downloads every object, so any pulled image can be
 * checked out without the remote.
 */
import type { ClientBase } from 'pg';
import { notFound } from './errors';
import { requireEngine } from './install';
import { HEAD, repositorySchema, type RepositoryRef } from './repository';
import { API_SCHEMA, transaction } from './sql';
import { downloadObjects, uploadObjects, type RemoteEngine } from './transfer';

/** Options of {@link push} and {@link pull}. */
export interface SyncOptions {
  /** The repository's name on the remote engine. @default the same as here */
  readonly remoteRepository?: RepositoryRef;
}

/** What a push or pull copied. */
export interface SyncResult {
  /** Images the receiving engine did not have. */
  readonly images: string[];
  /** Objects copied (objects the receiver had already are not). */
  readonly objects: string[];
  /** Tags set on the receiving engine (`HEAD` never is: it belongs to each engine's checkout). */
  readonly tags: string[];
}

interface ImageRow {
  image_hash: string;
  parent_id: string | null;
  created: Date;
  comment: string | null;
  provenance_type: string | null;
  provenance_data: unknown;
}

interface TableRow {
  table_name: string;
  table_schema: unknown;
  object_ids: string[];
}

const ns = (repo: RepositoryRef) => repo.namespace ?? '';

async function readImages(client: ClientBase, repo: RepositoryRef): Promise<ImageRow[]> {
  const { rows } = await client.query<ImageRow>(`SELECT * FROM ${API_SCHEMA}.get_images($1, $2)`, [ns(repo), repo.repository]);
  return rows;
}

/**
 * Copies what `target` lacks of `source`'s repository: images (with their table versions),
 * the objects those use (through `transfer`), and all tags but HEAD. Objects go first, so the
 * receiver never names an object it does not hold.
 */
async function sync(
  source: ClientBase, sourceRepo: RepositoryRef,
  target: ClientBase, targetRepo: RepositoryRef,
  transfer: (ids: string[]) => Promise<string[]>,
  where: string,
): Promise<SyncResult> {
  const { images, tags, tables } = await transaction(source, async () => {
    const images = await readImages(source, sourceRepo);
    if (images.length === 0) throw notFound(`repository ${repositorySchema(sourceRepo)} on ${where}`, 'Check the name, or commit to it first.');
    const known = new Set((await transaction(target, () => readImages(target, targetRepo))).map((i) => i.image_hash));
    const fresh = images.filter((i) => !known.has(i.image_hash));
    const tables = new Map<string, TableRow[]>();
    for (const image of fresh) {
      const { rows } = await source.query<TableRow>(`SELECT * FROM ${API_SCHEMA}.get_tables($1, $2, $3)`, [ns(sourceRepo), sourceRepo.repository, image.image_hash]);
      tables.set(image.image_hash, rows);
    }
    const { rows: tagRows } = await source.query<{ image_hash: string; tag: string }>(
      `SELECT * FROM ${API_SCHEMA}.get_tagged_images($1, $2) WHERE tag <> '${HEAD}'`,
      [ns(sourceRepo), sourceRepo.repository],
    );
    return { images: fresh, tags: tagRows, tables };
  });
  const objectIds = [...new Set([...tables.values()].flat().flatMap((t) => t.object_ids))].sort();
  const objects = await transfer(objectIds);
  await transaction(target, async () => {
    const repoArgs = [ns(targetRepo), targetRepo.repository];
    for (const image of images) {
      await target.query(
        `SELECT ${API_SCHEMA}.add_image($1, $2, $3, $4, $5, $6, $7, $8)`,
        [...repoArgs, image.image_hash, image.parent_id, image.created, image.comment, image.provenance_type, image.provenance_data === null ? null : JSON.stringify(image.provenance_data)],
      );
      for (const table of tables.get(image.image_hash)!) {
        await target.query(
          `SELECT ${API_SCHEMA}.add_table($1, $2, $3, $4, $5, $6)`,
          [...repoArgs, image.image_hash, table.table_name, JSON.stringify(table.table_schema), table.object_ids],
        );
      }
    }
    for (const { image_hash, tag } of tags) await target.query(`SELECT ${API_SCHEMA}.tag_image($1, $2, $3, $4)`, [...repoArgs, image_hash, tag]);
  });
  return { images: images.map((i) => i.image_hash), objects, tags: tags.map((t) => t.tag) };
}

/**
 * Pushes a repository to a remote engine: the images it lacks, their table versions, the objects
 * they use (uploaded over postgres_fdw), and the tags. The remote client must not be in a
 * transaction. The remote's checkout (its HEAD and schema) is left alone.
 */
export async function push(local: ClientBase, remote: RemoteEngine, repo: RepositoryRef, options: SyncOptions = {}): Promise<SyncResult> {
  await requireEngine(local, 'the local database');
  await requireEngine(remote.client, 'the remote engine');
  return sync(local, repo, remote.client, options.remoteRepository ?? repo, (ids) => uploadObjects(local, remote, ids), 'this engine');
}

/**
 * Pulls a repository from a remote engine: the images this engine lacks, their table versions,
 * all the objects they use (downloaded over postgres_fdw) and the tags. Nothing is checked out:
 * call checkout() next.
 */
export async function pull(local: ClientBase, remote: RemoteEngine, repo: RepositoryRef, options: SyncOptions = {}): Promise<SyncResult> {
  await requireEngine(local, 'the local database');
  await requireEngine(remote.client, 'the remote engine');
  return sync(remote.client, options.remoteRepository ?? repo, local, repo, (ids) => downloadObjects(local, remote, ids), 'the remote engine');
}
