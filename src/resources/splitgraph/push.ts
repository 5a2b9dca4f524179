/**
 * `splitgraph:push`: a repository's images, table versions, tags and objects copied to another
 * engine (src/splitgraph/sync.ts). Objects go server to server over postgres_fdw: the *local*
 * server connects to the remote one (at `fdwHost`/`fdwPort` when it sees it elsewhere than
 * pgstacks does), so the local engine needs postgres_fdw and the remote a password login.
 *
 * - Create and update push what the remote lacks. `image` (a snapshot's `imageHash`) makes a new
 *   snapshot a change of props, so the push runs again after it.
 * - Read finds it gone when the remote has no image of the repository, and reports `image` as
 *   drift when the remote lacks it (without `image`: any image the local engine has), so a
 *   deploy pushes again.
 * - RETAIN by default: the remote copy stays. With DESTROY, delete removes the repository's
 *   images and tags from the remote, and the objects nothing there uses any more (a checked-out
 *   schema on the remote stays, untracked).
 *
 * The remote's API lets a role that is not a superuser write only to the namespace named after
 * it: push to such an engine with `remoteNamespace` set to the remote user.
 */
import type { Client } from 'pg';
import * as z from 'zod';
import { defineResourceType, type HandlerContext } from '../../runtime/resource-type';
import { repositorySchemaName } from '../../services/splitgraph';
import { checkRepositorySchema, checkSchemaName, checkSameDatabase, connectionSchema, engineAddress, postgresName, repositoryNames, withSplitgraph, type ConnectionProps } from './connection';

const EVEN_WITH_REFERENCES = { when: () => true };

export const pushSchema = z
  .object({
    /** The engine the repository is in. */
    connection: connectionSchema,
    /** The engine to push to. */
    remote: connectionSchema,
    /** The remote engine's `id` output: a reference, so the push waits for that engine. */
    remoteEngine: z.string().min(1),
    ...repositoryNames,
    /** The repository's namespace on the remote. @default the local one */
    remoteNamespace: z.string().refine((n) => !n.includes('/'), { message: "must not contain '/'" }).optional(),
    /** The repository's name on the remote. @default the local one */
    remoteRepository: postgresName('remote repository name').refine((n) => !n.includes('/'), { message: "must not contain '/': give the namespace in remoteNamespace" }).optional(),
    /** An image that must be on the remote (a snapshot's `imageHash`). @default every local image */
    image: z.string().regex(/^[0-9a-f]{64}$/, 'must be an image hash (64 hex digits), e.g. a snapshot\'s imageHash').optional(),
    /** The remote's host as the *local server* reaches it. @default remote.host */
    fdwHost: z.string().min(1).optional(),
    /** The remote's port as the local server reaches it. @default remote.port */
    fdwPort: z.number().int().min(1).max(65535).optional(),
  })
  .strict()
  .superRefine(checkRepositorySchema, EVEN_WITH_REFERENCES)
  .superRefine((p, ctx) => checkSchemaName(p.remoteNamespace ?? p.namespace, p.remoteRepository ?? p.repository, 'remoteRepository', ctx), EVEN_WITH_REFERENCES);

export type SplitgraphPushProps = z.infer<typeof pushSchema>;
export type SplitgraphPushOutputs = {
  /** The repository's schema name on the remote, `namespace/repository`. */
  remoteRepository: string;
  /** The remote engine, `host:port/database`. */
  remoteEngine: string;
  /** The newest image pushed (`image`, or the local engine's newest). */
  imageHash: string;
};

type Splitgraph = typeof import('../../splitgraph');
type Ctx = Pick<HandlerContext, 'log' | 'redact' | 'signal'>;

const localRepo = (p: SplitgraphPushProps) => ({ namespace: p.namespace, repository: p.repository });
const remoteRepo = (p: SplitgraphPushProps) => ({ namespace: p.remoteNamespace ?? p.namespace, repository: p.remoteRepository ?? p.repository });
const remoteSchema = (p: SplitgraphPushProps) => repositorySchemaName(remoteRepo(p).namespace, remoteRepo(p).repository);
const physicalIdOf = (p: SplitgraphPushProps) => `${engineAddress(p.remote)}/${remoteSchema(p)}`;

/** Both engines, connected, for `fn`. */
function withBoth<T>(props: SplitgraphPushProps, ctx: Ctx, fn: (local: Client, remote: Client, sg: Splitgraph) => Promise<T>): Promise<T> {
  return withSplitgraph(props.connection, ctx, (local, sg) => withSplitgraph(props.remote, ctx, (remote) => fn(local, remote, sg)));
}

const fdwOf = (p: SplitgraphPushProps, remote: ConnectionProps) => ({
  host: p.fdwHost ?? remote.host,
  port: p.fdwPort ?? remote.port,
  database: remote.database,
  user: remote.user,
  password: remote.password,
});

async function pushNow(local: Client, remote: Client, sg: Splitgraph, props: SplitgraphPushProps, ctx: Ctx): Promise<SplitgraphPushOutputs> {
  const images = await sg.listImages(local, localRepo(props));
  const schema = repositorySchemaName(props.namespace, props.repository);
  if (images.length === 0) throw new Error(`repository ${schema} has no images in ${engineAddress(props.connection)}: declare it with a SplitgraphRepository first`);
  if (props.image && !images.some((i) => i.imageHash === props.image)) {
    throw new Error(`repository ${schema} has no image ${props.image} in ${engineAddress(props.connection)}, so it cannot be pushed`);
  }
  const result = await sg.push(local, { client: remote, fdw: fdwOf(props, props.remote) }, localRepo(props), { remoteRepository: remoteRepo(props) });
  const where = `${remoteSchema(props)} on ${engineAddress(props.remote)}`;
  ctx.log(
    result.images.length || result.objects.length
      ? `pushed ${schema} to ${where}: ${result.images.length} new images, ${result.objects.length} objects, tags ${result.tags.join(', ') || 'none'}`
      : `${where} had every image of ${schema} already${result.tags.length ? ` (tags ${result.tags.join(', ')} set)` : ''}`,
  );
  return { remoteRepository: remoteSchema(props), remoteEngine: engineAddress(props.remote), imageHash: props.image ?? images[images.length - 1].imageHash };
}

export const pushType = defineResourceType<SplitgraphPushProps, SplitgraphPushOutputs>({
  name: 'splitgraph:push',
  module: __filename,
  schema: pushSchema,
  attributes: ['remoteRepository', 'remoteEngine', 'imageHash'],
  stableAttributes: ['remoteRepository', 'remoteEngine'],
  // `repository` and the connections' hosts may be references: compared in update (see checkSameDatabase).
  immutable: ['namespace', 'remoteNamespace', 'remoteRepository'],
  replaceOrder: 'create-before-delete',
  defaultRemovalPolicy: 'retain',

  async create(props, ctx) {
    const outputs = await withBoth(props, ctx, (local, remote, sg) => pushNow(local, remote, sg, props, ctx));
    return { physicalId: physicalIdOf(props), outputs };
  },

  async read(_id, props, ctx) {
    return withBoth(props, ctx, async (local, remote, sg) => {
      if (!(await sg.isEngineInitialized(remote))) return undefined;
      const there = new Set((await sg.listImages(remote, remoteRepo(props))).map((i) => i.imageHash));
      if (there.size === 0) return undefined;
      const images = await sg.listImages(local, localRepo(props));
      const wanted = props.image ? [props.image] : images.map((i) => i.imageHash);
      const missing = wanted.filter((h) => !there.has(h));
      const outputs = { remoteRepository: remoteSchema(props), remoteEngine: engineAddress(props.remote), imageHash: props.image ?? String(ctx.recorded?.imageHash ?? '') };
      return { outputs, observed: { missing }, drift: missing.length ? ['image'] : [] };
    });
  },

  async update(_id, old, props, ctx) {
    const what = `the push of ${repositorySchemaName(old.namespace, old.repository)} to ${remoteSchema(old)}`;
    checkSameDatabase(what, old.connection, props.connection);
    checkSameDatabase(what, old.remote, props.remote, 'remote');
    if (old.repository !== props.repository) {
      throw new Error(`${what} now names repository ${repositorySchemaName(props.namespace, props.repository)}: a push does not change repositories; declare a new one (another construct id), or name ${old.repository} again.`);
    }
    return { outputs: await withBoth(props, ctx, (local, remote, sg) => pushNow(local, remote, sg, props, ctx)) };
  },

  async delete(_id, props, ctx) {
    await withSplitgraph(props.remote, ctx, async (remote, sg) => {
      if (!(await sg.isEngineInitialized(remote)) || !(await sg.repositoryExists(remote, remoteRepo(props)))) return;
      await sg.deleteRepository(remote, remoteRepo(props), { keepSchema: true });
      const freed = await sg.cleanupObjects(remote);
      ctx.log(`deleted repository ${remoteSchema(props)} from ${engineAddress(props.remote)} (its images and tags; ${freed.length} objects nothing else used)`);
    });
  },

  naturalKey: (props) => physicalIdOf(props),
});
