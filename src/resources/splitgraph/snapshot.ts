/**
 * `splitgraph:snapshot`: a tagged image of a repository, made at deploy time. Create commits the
 * repository's pending changes into objects and a new image (or, when nothing changed since HEAD,
 * takes HEAD's image) and tags it, in one transaction; a redeploy with the same props does
 * nothing, so one snapshot is one commit.
 *
 * - A changed `tag` is a new release: the update commits and tags again, and the earlier tag stays
 *   on its image (releases remain addressable). Its physical id stays the image it made first;
 *   `imageHash` is the image its tag names now.
 * - Read finds it gone when its image is (the next run snapshots again), and reports `tag` as drift
 *   when the tag was deleted or moved (the update puts it back on the image).
 * - RETAIN by default: removing it keeps the image and the tag. With DESTROY, delete removes the
 *   tag (if it still names this snapshot's image); images and objects always stay.
 */
import type { Client } from 'pg';
import * as z from 'zod';
import { defineResourceType, type HandlerContext } from '../../runtime/resource-type';
import { repositorySchemaName } from '../../services/splitgraph';
import { checkRepositorySchema, checkSameDatabase, connectionSchema, engineAddress, repositoryNames, tagSchema, withSplitgraph } from './connection';

const EVEN_WITH_REFERENCES = { when: () => true };

export const snapshotSchema = z
  .object({
    connection: connectionSchema,
    ...repositoryNames,
    tag: tagSchema,
    /** Stored with the image it commits. */
    comment: z.string().max(1000, 'must be at most 1000 characters').optional(),
  })
  .strict()
  .superRefine(checkRepositorySchema, EVEN_WITH_REFERENCES);

export type SplitgraphSnapshotProps = z.infer<typeof snapshotSchema>;
export type SplitgraphSnapshotOutputs = {
  /** The image the tag names. */
  imageHash: string;
  tag: string;
  /** The repository's schema. */
  repository: string;
  /** The image's tables, comma-separated. */
  tables: string;
};

type Splitgraph = typeof import('../../splitgraph');
type Ctx = Pick<HandlerContext, 'log' | 'redact' | 'signal'>;

const schemaOf = (props: SplitgraphSnapshotProps) => repositorySchemaName(props.namespace, props.repository);
const repoOf = (props: SplitgraphSnapshotProps) => ({ namespace: props.namespace, repository: props.repository });
const short = (hash: string) => hash.slice(0, 12);

async function outputsOf(db: Client, sg: Splitgraph, props: SplitgraphSnapshotProps, imageHash: string): Promise<SplitgraphSnapshotOutputs> {
  const tables = [...(await sg.getImageTables(db, repoOf(props), imageHash)).keys()].sort();
  return { imageHash, tag: props.tag, repository: schemaOf(props), tables: tables.join(',') };
}

/** The image a tag names, if any. */
async function tagged(db: Client, sg: Splitgraph, props: SplitgraphSnapshotProps): Promise<import('../../splitgraph').Image | undefined> {
  return (await sg.listImages(db, repoOf(props))).find((i) => i.tags.includes(props.tag));
}

/** Runs `fn` in one transaction: the engine's operations become savepoints of it. */
async function inTransaction<T>(db: Client, fn: () => Promise<T>): Promise<T> {
  await db.query('BEGIN');
  try {
    const result = await fn();
    await db.query('COMMIT');
    return result;
  } catch (err) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Commits what is pending (if anything) and tags the image, atomically. */
async function snapshot(db: Client, sg: Splitgraph, props: SplitgraphSnapshotProps, ctx: Ctx): Promise<SplitgraphSnapshotOutputs> {
  const schema = schemaOf(props);
  return inTransaction(db, async () => {
    const taken = await tagged(db, sg, props);
    if (taken) {
      throw new Error(
        `tag '${props.tag}' of repository ${schema} already names image ${short(taken.imageHash)} (made ${taken.created.toISOString()}), which this snapshot did not make. ` +
          `A snapshot commits a new image: choose another tag; or, to manage the existing one, record it with 'pgstacks state import <stack> <id> ${taken.imageHash}'.`,
      );
    }
    const status = await sg.status(db, repoOf(props));
    if (status.head === null) {
      throw new Error(`repository ${schema} has no checked-out image (HEAD) in ${engineAddress(props.connection)}: declare it with a SplitgraphRepository, or check an image out ('pgstacks splitgraph checkout').`);
    }
    let imageHash = status.head;
    if (status.changed) {
      const result = await sg.commit(db, repoOf(props), { comment: props.comment });
      imageHash = result.imageHash;
      const how = Object.entries(result.tables).map(([table, stored]) => `${table}: ${stored}`).join(', ');
      ctx.log(`committed repository ${schema} as image ${short(imageHash)} (${how || 'no tables'})`);
    } else {
      ctx.log(`repository ${schema} has not changed since image ${short(imageHash)}: tagging that image${props.comment ? ' (it keeps its own comment)' : ''}`);
    }
    await sg.tagImage(db, repoOf(props), imageHash, props.tag);
    ctx.log(`tagged image ${short(imageHash)} of ${schema} '${props.tag}'`);
    return outputsOf(db, sg, props, imageHash);
  });
}

const imageOf = (physicalId: string, ctx: Pick<HandlerContext, 'recorded'>) => String(ctx.recorded?.imageHash || physicalId);

export const snapshotType = defineResourceType<SplitgraphSnapshotProps, SplitgraphSnapshotOutputs>({
  name: 'splitgraph:snapshot',
  module: __filename,
  schema: snapshotSchema,
  attributes: ['imageHash', 'tag', 'repository', 'tables'],
  // A new tag is an update that commits a new image: only the repository stays.
  stableAttributes: ['repository'],
  // `repository` is a reference to the repository resource, and the connection's host often one
  // to an endpoint: both are compared in update (see checkSameDatabase).
  immutable: ['namespace'],
  replaceOrder: 'create-before-delete',
  defaultRemovalPolicy: 'retain',

  async create(props, ctx) {
    const outputs = await withSplitgraph(props.connection, ctx, (db, sg) => snapshot(db, sg, props, ctx));
    return { physicalId: outputs.imageHash, outputs };
  },

  async read(physicalId, props, ctx) {
    const image = imageOf(physicalId, ctx);
    return withSplitgraph(props.connection, ctx, async (db, sg) => {
      if (!(await sg.isEngineInitialized(db))) return undefined;
      const found = (await sg.listImages(db, repoOf(props))).find((i) => i.imageHash === image);
      if (!found) return undefined;
      return { outputs: await outputsOf(db, sg, props, image), observed: { tags: found.tags }, drift: found.tags.includes(props.tag) ? [] : ['tag'] };
    });
  },

  async update(physicalId, old, props, ctx) {
    checkSameDatabase(`snapshot '${old.tag}' of ${schemaOf(old)}`, old.connection, props.connection);
    if (schemaOf(old) !== schemaOf(props)) {
      throw new Error(`snapshot '${old.tag}' is of repository ${schemaOf(old)}, and the code now names ${schemaOf(props)}: a snapshot does not move between repositories; declare a new one (another construct id), or name ${schemaOf(old)} again.`);
    }
    const image = imageOf(physicalId, ctx);
    return withSplitgraph(props.connection, ctx, async (db, sg) => {
      if (old.tag !== props.tag) {
        const outputs = await snapshot(db, sg, props, ctx);
        ctx.log(`the earlier tag '${old.tag}' stays on image ${short(image)}`);
        return { outputs };
      }
      const names = (await tagged(db, sg, props))?.imageHash;
      if (names !== image) {
        await sg.tagImage(db, repoOf(props), image, props.tag);
        ctx.log(`tag '${props.tag}' ${names ? `named image ${short(names)}` : 'was deleted'} outside pgstacks: put it back on image ${short(image)}`);
      }
      if (old.comment !== props.comment) ctx.log(`comment changed: image ${short(image)} keeps the comment it was committed with; the next snapshot uses the new one`);
      return { outputs: await outputsOf(db, sg, props, image) };
    });
  },

  async delete(physicalId, props, ctx) {
    const image = imageOf(physicalId, ctx);
    await withSplitgraph(props.connection, ctx, async (db, sg) => {
      if (!(await sg.isEngineInitialized(db))) return;
      const names = (await tagged(db, sg, props))?.imageHash;
      if (names === undefined) return;
      if (names !== image) {
        ctx.log(`tag '${props.tag}' names image ${short(names)} now, not this snapshot's ${short(image)}: left alone`);
        return;
      }
      await sg.deleteTag(db, repoOf(props), props.tag);
      ctx.log(`deleted tag '${props.tag}' of ${schemaOf(props)}; image ${short(image)} and its objects stay`);
    });
  },

  /** After an interrupted create (commit and tag are one transaction): the image the tag names, if the run got that far. */
  async adopt(props, ctx) {
    return withSplitgraph(props.connection, ctx, async (db, sg) => {
      if (!(await sg.isEngineInitialized(db))) return undefined;
      const found = await tagged(db, sg, props);
      if (!found) return undefined;
      return { physicalId: found.imageHash, outputs: await outputsOf(db, sg, props, found.imageHash) };
    });
  },

  naturalKey: (props) => `${engineAddress(props.connection)}/${schemaOf(props)}@${props.tag}`,
});
