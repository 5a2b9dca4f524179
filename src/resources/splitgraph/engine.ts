/**
 * `splitgraph:engine`: the versioning engine installed in a Postgres database (schemas
 * `splitgraph_meta`, `splitgraph_api`, `splitgraph_audit`; see src/splitgraph/README.md).
 *
 * - Create installs it (an engine already there is brought up to date, so creating adopts it).
 * - Read finds it gone when `splitgraph_meta` is missing (the next run installs it again), and
 *   reports `changeTracking` as drift when change capture should be there and is not.
 * - Update installs again when change tracking was turned on or the installed engine is older
 *   than this pgstacks; a changed password or user alone changes nothing remotely.
 * - RETAIN by default: the engine holds every repository's history. With DESTROY, delete removes
 *   the capture triggers from every tracked table and drops the engine's three schemas (images,
 *   tags, objects and pending change logs go with them; checked-out schemas and their tables stay).
 */
import * as z from 'zod';
import { defineResourceType } from '../../runtime/resource-type';
import { checkSameDatabase, connectionSchema, engineAddress, withSplitgraph, type ConnectionProps } from './connection';

export const engineSchema = z
  .object({
    connection: connectionSchema,
    /** Install change capture (`splitgraph_audit`); an engine that only receives pushes can go without. */
    changeTracking: z.boolean().default(true),
  })
  .strict();

export type SplitgraphEngineProps = z.infer<typeof engineSchema>;
export type SplitgraphEngineOutputs = {
  /** `host:port/database`: what repositories and pushes reference, so they wait for the engine. */
  id: string;
  /** The installed engine's version (`splitgraph_meta.info`). */
  version: string;
  /** Whether `postgres_fdw` is installed, which push and pull from this engine need. */
  transfers: boolean;
};

const ENGINE_SCHEMAS = ['splitgraph_api', 'splitgraph_audit', 'splitgraph_meta'] as const;

type Splitgraph = typeof import('../../splitgraph');

interface Installed {
  readonly version: string | null;
  readonly audit: boolean;
  readonly transfers: boolean;
}

async function installed(db: import('pg').Client, sg: Splitgraph): Promise<Installed | undefined> {
  if (!(await sg.isEngineInitialized(db))) return undefined;
  const [row] = await sg.runSql<{ version: string | null; audit: boolean; transfers: boolean }>(
    db,
    `SELECT (SELECT value FROM splitgraph_meta.info WHERE key = 'engine_version') AS version,
            to_regnamespace('splitgraph_audit') IS NOT NULL AS audit,
            EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgres_fdw') AS transfers`,
  );
  return row;
}

const outputsOf = (connection: ConnectionProps, state: Installed): SplitgraphEngineOutputs => ({
  id: engineAddress(connection),
  version: state.version ?? '',
  transfers: state.transfers,
});

/** Installs or upgrades the engine (in the caller's connection); its outputs after. */
async function install(db: import('pg').Client, sg: Splitgraph, props: SplitgraphEngineProps, log: (message: string) => void): Promise<SplitgraphEngineOutputs> {
  const before = await installed(db, sg);
  await sg.initializeEngine(db, { skipAudit: !props.changeTracking });
  const after = (await installed(db, sg)) as Installed;
  const where = engineAddress(props.connection);
  const what = before ? `brought the engine in ${where} up to date (version ${before.version ?? '?'} -> ${after.version})` : `installed the engine in ${where} (version ${after.version})`;
  log(
    `${what}${after.audit ? '' : ', without change tracking'}` +
      (after.transfers ? '' : '; postgres_fdw was left out (creating it needs a superuser), so push and pull from this engine fail until one installs it'),
  );
  return outputsOf(props.connection, after);
}

export const engineType = defineResourceType<SplitgraphEngineProps, SplitgraphEngineOutputs>({
  name: 'splitgraph:engine',
  module: __filename,
  schema: engineSchema,
  attributes: ['id', 'version', 'transfers'],
  stableAttributes: ['id'],
  // The connection's address is compared in update (see checkSameDatabase).
  immutable: [],
  replaceOrder: 'delete-before-create',
  defaultRemovalPolicy: 'retain',

  async create(props, ctx) {
    const outputs = await withSplitgraph(props.connection, ctx, (db, sg) => install(db, sg, props, (m) => ctx.log(m)));
    return { physicalId: engineAddress(props.connection), outputs };
  },

  async read(_id, props, ctx) {
    return withSplitgraph(props.connection, ctx, async (db, sg) => {
      const state = await installed(db, sg);
      if (!state) return undefined;
      return {
        outputs: outputsOf(props.connection, state),
        observed: state,
        drift: props.changeTracking && !state.audit ? ['changeTracking'] : [],
      };
    });
  },

  async update(_id, old, props, ctx) {
    checkSameDatabase('the engine', old.connection, props.connection);
    return withSplitgraph(props.connection, ctx, async (db, sg) => {
      const state = await installed(db, sg);
      if (!state || state.version !== sg.ENGINE_VERSION || (props.changeTracking && !state.audit)) {
        return { outputs: await install(db, sg, props, (m) => ctx.log(m)) };
      }
      if (old.changeTracking && !props.changeTracking && state.audit) {
        ctx.log('changeTracking is off, but this engine keeps splitgraph_audit (its tables may be tracked); drop that schema by hand if nothing uses it');
      }
      return { outputs: outputsOf(props.connection, state) };
    });
  },

  async delete(_id, props, ctx) {
    await withSplitgraph(props.connection, ctx, async (db, sg) => {
      if (!(await sg.isEngineInitialized(db))) return;
      const tracked = await sg.getTrackedTables(db);
      if (tracked.length) await sg.untrackTables(db, tracked, { force: true });
      const [counts] = await sg.runSql<{ repositories: number; images: number; objects: number }>(
        db,
        `SELECT (SELECT count(DISTINCT (namespace, repository))::int FROM splitgraph_meta.images) AS repositories,
                (SELECT count(*)::int FROM splitgraph_meta.images) AS images,
                (SELECT count(*)::int FROM splitgraph_meta.objects) AS objects`,
      );
      await db.query('BEGIN');
      try {
        for (const schema of ENGINE_SCHEMAS) await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await db.query('COMMIT');
      } catch (err) {
        await db.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
      ctx.log(
        `dropped the engine in ${engineAddress(props.connection)}: ${counts.repositories} repositories, ${counts.images} images and ${counts.objects} objects; ` +
          `capture triggers removed from ${tracked.length} tables (the tables themselves stay)`,
      );
    });
  },

  naturalKey: (props) => engineAddress(props.connection),
});
