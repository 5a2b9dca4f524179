/**
 * `splitgraph:repository`: a repository over a schema's tables, with change tracking installed.
 * The repository `namespace/repository` is the schema of that name (just `repository` without a
 * namespace), as the engine checks repositories out; its tables are what snapshots commit.
 *
 * - Create starts the repository (schema if missing, an empty first image) unless the engine has
 *   it already (then it is taken as it is), and installs the capture triggers on `tables`, or on
 *   every table of the schema.
 * - Read finds it gone when the engine no longer has it, and reports `tables` as drift when a
 *   table to track is not (a table created in the schema since, with `tables` unset).
 * - Update tracks what is new in `tables`; a table taken out of `tables` is untracked, refused
 *   while it has pending changes (as delete is).
 * - DESTROY by default: delete untracks the schema's tables (history stays: images, tags and
 *   objects remain in the engine). It is refused while tables have pending changes that no
 *   snapshot committed, naming the rows that would be lost, unless `discardPendingChanges`.
 */
import type { Client } from 'pg';
import * as z from 'zod';
import { defineResourceType, type HandlerContext } from '../../runtime/resource-type';
import { repositorySchemaName } from '../../services/splitgraph';
import { checkRepositorySchema, checkSameDatabase, connectionSchema, engineAddress, postgresName, repositoryNames, withSplitgraph } from './connection';

const EVEN_WITH_REFERENCES = { when: () => true };

export const repositorySchema = z
  .object({
    connection: connectionSchema,
    /** The engine's `id` output: a reference, so the repository waits for its engine. */
    engine: z.string().min(1),
    ...repositoryNames,
    /** The tables to track; unset: every table of the schema, including tables created later (at the next deploy). */
    tables: z
      .array(postgresName('table name'))
      .min(1, 'must name at least one table; leave tables out to track every table of the schema')
      .refine((t) => new Set(t).size === t.length, { message: 'names a table twice' })
      .optional(),
    /** Let removing the repository (or a table from `tables`) discard changes no snapshot committed. */
    discardPendingChanges: z.boolean().default(false),
  })
  .strict()
  .superRefine(checkRepositorySchema, EVEN_WITH_REFERENCES);

export type SplitgraphRepositoryProps = z.infer<typeof repositorySchema>;
export type SplitgraphRepositoryOutputs = {
  /** The repository's name (without the namespace). */
  repository: string;
  namespace: string;
  /** The schema its tables are in: `namespace/repository`, or `repository`. */
  schema: string;
  /** The engine's id, `host:port/database`. */
  engine: string;
  /** The tracked tables, comma-separated. */
  tables: string;
};

type Splitgraph = typeof import('../../splitgraph');
type Ctx = Pick<HandlerContext, 'log' | 'redact' | 'signal'>;

const schemaOf = (props: SplitgraphRepositoryProps) => repositorySchemaName(props.namespace, props.repository);
const repoOf = (props: SplitgraphRepositoryProps) => ({ namespace: props.namespace, repository: props.repository });

/** The schema's tables (as the engine commits them: tables and partitioned tables, not partitions). */
async function schemaTables(db: Client, sg: Splitgraph, schema: string): Promise<string[]> {
  const rows = await sg.runSql<{ name: string }>(
    db,
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname COLLATE "C"`,
    [schema],
  );
  return rows.map((r) => r.name);
}

async function trackedTables(db: Client, sg: Splitgraph, schema: string): Promise<string[]> {
  return (await sg.getTrackedTables(db, schema)).map((t) => t.table);
}

/** The tables `props` asks to track; a named table missing from the schema is an error. */
async function wantedTables(db: Client, sg: Splitgraph, props: SplitgraphRepositoryProps): Promise<string[]> {
  const schema = schemaOf(props);
  const existing = await schemaTables(db, sg, schema);
  if (!props.tables) return existing;
  const missing = props.tables.filter((t) => !existing.includes(t));
  if (missing.length) {
    throw new Error(
      `schema "${schema}" has no table${missing.length > 1 ? 's' : ''} ${missing.map((t) => `"${t}"`).join(', ')} ` +
        `(it has: ${existing.map((t) => `"${t}"`).join(', ') || 'none'}). pgstacks does not create tables: create ${missing.length > 1 ? 'them' : 'it'} first, or take ${missing.length > 1 ? 'them' : 'it'} out of tables.`,
    );
  }
  return [...props.tables].sort();
}

/**
 * Untracks `tables`, refused while they have pending changes unless the props allow discarding
 * them: the message names the rows per table and the prop to set.
 */
async function untrack(db: Client, sg: Splitgraph, props: SplitgraphRepositoryProps, tables: readonly string[], what: string, ctx: Ctx): Promise<void> {
  if (tables.length === 0) return;
  const schema = schemaOf(props);
  const pending: string[] = [];
  let rows = 0;
  for (const table of tables) {
    const counts = await sg.getPendingChanges(db, { schema, table }, { aggregate: true });
    const n = counts.added + counts.removed + counts.updated;
    rows += n;
    if (n > 0 || counts.truncated) pending.push(`${table}: ${n} row${n === 1 ? '' : 's'}${counts.truncated ? ', truncated' : ''}`);
  }
  if (pending.length > 0) {
    const lost = `${rows} pending changed row${rows === 1 ? '' : 's'} (${pending.join('; ')})`;
    if (!props.discardPendingChanges) {
      throw new Error(
        `${what} would lose ${lost} in repository ${schema} that no snapshot has committed. ` +
          `Commit them first (deploy a SplitgraphSnapshot of the repository, or 'pgstacks splitgraph' to look at them), ` +
          `or set discardPendingChanges: true on the SplitgraphRepository and deploy, then remove it.`,
      );
    }
    ctx.log(`discarding ${lost} (discardPendingChanges is set)`);
  }
  await sg.untrackTables(db, tables.map((table) => ({ schema, table })), { force: true });
  ctx.log(`untracked ${tables.map((t) => `"${t}"`).join(', ')} in schema "${schema}"`);
}

async function outputsOf(db: Client, sg: Splitgraph, props: SplitgraphRepositoryProps): Promise<SplitgraphRepositoryOutputs> {
  return {
    repository: props.repository,
    namespace: props.namespace,
    schema: schemaOf(props),
    engine: engineAddress(props.connection),
    tables: (await trackedTables(db, sg, schemaOf(props))).join(','),
  };
}

/** Starts the repository if the engine lacks it, then tracks the wanted tables. */
async function ensure(db: Client, sg: Splitgraph, props: SplitgraphRepositoryProps, ctx: Ctx): Promise<void> {
  const schema = schemaOf(props);
  if (!(await sg.repositoryExists(db, repoOf(props)))) {
    await sg.initRepository(db, repoOf(props));
    ctx.log(`started repository ${schema} (its tables are stored whole at its first snapshot)`);
  }
  const wanted = await wantedTables(db, sg, props);
  const tracked = await trackedTables(db, sg, schema);
  const fresh = wanted.filter((t) => !tracked.includes(t));
  if (fresh.length) {
    await sg.trackTables(db, fresh.map((table) => ({ schema, table })));
    ctx.log(`tracking changes to ${fresh.map((t) => `"${t}"`).join(', ')} in schema "${schema}"`);
  }
  if (wanted.length === 0) ctx.log(`schema "${schema}" has no tables yet: tables created in it are tracked at the next deploy`);
}

export const repositoryType = defineResourceType<SplitgraphRepositoryProps, SplitgraphRepositoryOutputs>({
  name: 'splitgraph:repository',
  module: __filename,
  schema: repositorySchema,
  attributes: ['repository', 'namespace', 'schema', 'engine', 'tables'],
  stableAttributes: ['repository', 'namespace', 'schema', 'engine'],
  // The connection's address is compared in update (see checkSameDatabase).
  immutable: ['namespace', 'repository'],
  // The same schema: its triggers go before they are installed again.
  replaceOrder: 'delete-before-create',
  defaultRemovalPolicy: 'destroy',

  async create(props, ctx) {
    return withSplitgraph(props.connection, ctx, async (db, sg) => {
      await ensure(db, sg, props, ctx);
      return { physicalId: `${engineAddress(props.connection)}/${schemaOf(props)}`, outputs: await outputsOf(db, sg, props) };
    });
  },

  async read(_id, props, ctx) {
    return withSplitgraph(props.connection, ctx, async (db, sg) => {
      if (!(await sg.isEngineInitialized(db)) || !(await sg.repositoryExists(db, repoOf(props)))) return undefined;
      const schema = schemaOf(props);
      const existing = await schemaTables(db, sg, schema);
      const tracked = await trackedTables(db, sg, schema);
      // A listed table that was dropped counts too: the next update says it is missing.
      const untracked = (props.tables ?? existing).filter((t) => !tracked.includes(t));
      return { outputs: await outputsOf(db, sg, props), observed: { tables: existing, tracked }, drift: untracked.length ? ['tables'] : [] };
    });
  },

  async update(_id, old, props, ctx) {
    checkSameDatabase(`repository ${schemaOf(old)}`, old.connection, props.connection);
    return withSplitgraph(props.connection, ctx, async (db, sg) => {
      const schema = schemaOf(props);
      if (props.tables) {
        // Tables no longer listed (all tracked ones, when the list was unset) are untracked first.
        const before = old.tables ?? (await trackedTables(db, sg, schema));
        const existing = await schemaTables(db, sg, schema);
        const dropped = before.filter((t) => !props.tables!.includes(t) && existing.includes(t));
        await untrack(db, sg, props, dropped, `taking ${dropped.map((t) => `"${t}"`).join(', ')} out of tables`, ctx);
      }
      await ensure(db, sg, props, ctx);
      return { outputs: await outputsOf(db, sg, props) };
    });
  },

  async delete(_id, props, ctx) {
    await withSplitgraph(props.connection, ctx, async (db, sg) => {
      if (!(await sg.isEngineInitialized(db))) return;
      const tracked = await trackedTables(db, sg, schemaOf(props));
      await untrack(db, sg, props, tracked, 'removing the repository', ctx);
      if (tracked.length) ctx.log(`repository ${schemaOf(props)} keeps its images and tags in the engine; its tables stay as they are`);
    });
  },

  naturalKey: (props) => `${engineAddress(props.connection)}/${schemaOf(props)}`,
});
