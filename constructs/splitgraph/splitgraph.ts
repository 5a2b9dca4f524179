import type { Construct } from 'constructs';
import { engineType, type SplitgraphEngineOutputs } from '../../src/resources/splitgraph/engine';
import { pushType, type SplitgraphPushOutputs } from '../../src/resources/splitgraph/push';
import { repositoryType, type SplitgraphRepositoryOutputs } from '../../src/resources/splitgraph/repository';
import { snapshotType, type SplitgraphSnapshotOutputs } from '../../src/resources/splitgraph/snapshot';
import { repositorySchemaName } from '../../src/services/splitgraph';
import { ManagedResource, type ManagedResourceOptions } from '../core/managed-resource';
import { PropsValidationError } from '../core/props';
import type { PostgresConnection } from './connection';

/** Props of {@link SplitgraphEngine}. */
export interface SplitgraphEngineProps extends ManagedResourceOptions {
  /** The database to install the engine in. */
  readonly connection: PostgresConnection;
  /**
   * Install change capture (schema `splitgraph_audit`), which tracked repositories need. An engine
   * that only receives pushes can go without.
   * @default true
   */
  readonly changeTracking?: boolean;
}

/**
 * The Splitgraph-style versioning engine in a Postgres database (schemas `splitgraph_meta`,
 * `splitgraph_api`, `splitgraph_audit`, and the `pgcrypto` extension; `postgres_fdw` too where
 * the user may create it, for push and pull). Installing over an existing engine brings it up to
 * date. Retained when removed, unless `removalPolicy` says otherwise: it holds every repository's
 * history, and DESTROY drops it all (checked-out schemas and their tables stay).
 */
export class SplitgraphEngine extends ManagedResource<SplitgraphEngineOutputs> {
  readonly connection: PostgresConnection;

  constructor(scope: Construct, id: string, props: SplitgraphEngineProps) {
    super(scope, id, engineType, { connection: props.connection.connection(scope), changeTracking: props.changeTracking }, props);
    this.connection = props.connection;
  }

  /** `host:port/database` (a deploy-time reference: resources on this engine wait for it). */
  get engineId(): string {
    return this.getAttribute('id');
  }

  /** The installed engine's version. */
  get version(): string {
    return this.getAttribute('version');
  }
}

/** Props of {@link SplitgraphRepository}. */
export interface SplitgraphRepositoryProps extends ManagedResourceOptions {
  readonly engine: SplitgraphEngine;
  /**
   * The repository's name, and the name of the schema whose tables it versions (with a
   * `namespace`, the schema is `namespace/repository`). At most 63 bytes with the namespace; no `/`.
   */
  readonly repository: string;
  /** @default - none: the schema is named `repository` */
  readonly namespace?: string;
  /**
   * The tables whose changes are tracked. Every table of the schema is in each snapshot; a table
   * not tracked is stored whole at each one.
   * @default - every table of the schema, tables created later included (tracked at the next deploy)
   */
  readonly tables?: string[];
  /**
   * Let removing the repository (or a table from `tables`) discard the changes no snapshot has
   * committed. Set it and deploy first: the removal runs with the props last deployed.
   * @default false - refused, naming the rows that would be lost
   */
  readonly discardPendingChanges?: boolean;
}

/**
 * A versioned schema: change tracking (capture triggers) on its tables, and a repository in the
 * engine (an empty first image, made when the engine does not have the repository yet). Removing
 * it untracks the tables (removal policy DESTROY by default); its images and tags stay in the
 * engine, and it is refused while changes are pending unless `discardPendingChanges` is set.
 */
export class SplitgraphRepository extends ManagedResource<SplitgraphRepositoryOutputs> {
  readonly engine: SplitgraphEngine;
  /** The repository's name. */
  readonly repository: string;
  readonly namespace: string;
  /** The schema its tables are in: `namespace/repository`, or `repository`. */
  readonly schema: string;

  constructor(scope: Construct, id: string, props: SplitgraphRepositoryProps) {
    super(
      scope,
      id,
      repositoryType,
      {
        connection: props.engine.connection.connection(scope),
        engine: props.engine.engineId,
        namespace: props.namespace,
        repository: props.repository,
        tables: props.tables,
        discardPendingChanges: props.discardPendingChanges,
      },
      props,
    );
    this.engine = props.engine;
    this.repository = props.repository;
    this.namespace = props.namespace ?? '';
    this.schema = repositorySchemaName(props.namespace, props.repository);
  }

  /** The repository's name as a deploy-time reference: snapshots and pushes of it wait for it. */
  get repositoryRef(): string {
    return this.getAttribute('repository');
  }

  /** The tracked tables, comma-separated. */
  get trackedTables(): string {
    return this.getAttribute('tables');
  }
}

/** Props of {@link SplitgraphSnapshot}. */
export interface SplitgraphSnapshotProps extends ManagedResourceOptions {
  readonly repository: SplitgraphRepository;
  /**
   * The tag of the image: a letter or digit, then letters, digits, `.`, `_` or `-` (at most 63);
   * not `HEAD`. Changing it (a tag per release) commits and tags again; the earlier tag stays.
   */
  readonly tag: string;
  /** Stored with the image it commits. @default - none */
  readonly comment?: string;
}

/**
 * A tagged image of a repository, made when it is deployed: the pending changes are committed into
 * objects and an image (HEAD's image is tagged when nothing changed), then tagged, in one
 * transaction. Deploying again with the same props does nothing; a new `tag` makes a new image.
 * Retained when removed, unless `removalPolicy` says otherwise (DESTROY deletes the tag only;
 * images are never deleted).
 */
export class SplitgraphSnapshot extends ManagedResource<SplitgraphSnapshotOutputs> {
  readonly repository: SplitgraphRepository;
  readonly tag: string;

  constructor(scope: Construct, id: string, props: SplitgraphSnapshotProps) {
    super(
      scope,
      id,
      snapshotType,
      {
        connection: props.repository.engine.connection.connection(scope),
        namespace: props.repository.namespace || undefined,
        repository: props.repository.repositoryRef,
        tag: props.tag,
        comment: props.comment,
      },
      props,
    );
    this.repository = props.repository;
    this.tag = props.tag;
  }

  /** The hash of the image the tag names (deploy-time). */
  get imageHash(): string {
    return this.getAttribute('imageHash');
  }
}

/** Props of {@link SplitgraphPush}. */
export interface SplitgraphPushProps extends ManagedResourceOptions {
  readonly repository: SplitgraphRepository;
  /** The engine to push to (another database; its `PostgresConnection` logs in there). */
  readonly remote: SplitgraphEngine;
  /**
   * Push after this snapshot (of `repository`), and again whenever it makes a new image.
   * @default - no snapshot: every image the repository has, pushed again when the remote lacks one
   */
  readonly after?: SplitgraphSnapshot;
  /** The namespace on the remote (a remote user who is not a superuser may write only to the namespace named after them). @default - the repository's namespace */
  readonly remoteNamespace?: string;
  /** The repository's name on the remote. @default - the repository's name */
  readonly remoteRepository?: string;
  /** The remote's host as the *local* Postgres server reaches it (objects go server to server over postgres_fdw). @default - the remote connection's host */
  readonly fdwHost?: string;
  /** The remote's port as the local server reaches it. @default - the remote connection's port */
  readonly fdwPort?: number;
}

/**
 * A repository's images, tags and objects pushed to another engine at deploy time, and again
 * after each new snapshot (`after`) or whenever the remote lacks an image. The local engine needs
 * `postgres_fdw`. Retained when removed, unless `removalPolicy` says otherwise (DESTROY deletes
 * the repository from the remote engine).
 */
export class SplitgraphPush extends ManagedResource<SplitgraphPushOutputs> {
  constructor(scope: Construct, id: string, props: SplitgraphPushProps) {
    const problems: string[] = [];
    if (props.after && props.after.repository !== props.repository) {
      problems.push(`after = ${props.after.node.path}: it is a snapshot of ${props.after.repository.node.path}, not of ${props.repository.node.path}; pass a snapshot of the repository pushed`);
    }
    if (props.remote === props.repository.engine) {
      problems.push(`remote = ${props.remote.node.path}: it is the repository's own engine; pass the engine to copy the repository to`);
    }
    if (problems.length) throw new PropsValidationError(`Invalid props for SplitgraphPush at '${scope.node.path}/${id}':\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    super(
      scope,
      id,
      pushType,
      {
        connection: props.repository.engine.connection.connection(scope),
        remote: props.remote.connection.connection(scope),
        remoteEngine: props.remote.engineId,
        namespace: props.repository.namespace || undefined,
        repository: props.repository.repositoryRef,
        remoteNamespace: props.remoteNamespace,
        remoteRepository: props.remoteRepository,
        image: props.after?.imageHash,
        fdwHost: props.fdwHost,
        fdwPort: props.fdwPort,
      },
      props,
    );
  }

  /** The repository's schema name on the remote engine. */
  get remoteRepositoryName(): string {
    return this.getAttribute('remoteRepository');
  }
}
