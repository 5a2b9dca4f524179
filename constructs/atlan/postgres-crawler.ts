import type { Construct } from 'constructs';
import { postgresCrawlerType, type PostgresCrawlerOutputs } from '../../src/resources/atlan/postgres-crawler';
import { ManagedResource, type ManagedResourceOptions } from '../core/managed-resource';
import { PropsValidationError } from '../core/props';
import { RemovalPolicy } from '../core/removal-policy';
import { Secret } from '../core/secret';
import type { AtlanTenant } from './tenant';

/**
 * Who administers the connection in Atlan. At least one entry in all: a connection without an
 * admin is refused.
 */
export interface PostgresCrawlerAdmins {
  /** Workspace role names, e.g. `['$admin']` (resolved to the role ids Atlan takes at deploy). @default - none */
  readonly roles?: string[];
  /** Group names (`admins`; the alias `Admins` is resolved to it). @default - none */
  readonly groups?: string[];
  /** Usernames (an API key's service account too). @default - none */
  readonly users?: string[];
}

/** AWS IAM authentication to an RDS or Aurora Postgres, instead of a password. */
export class PostgresIamAuth {
  /** An IAM user's access key: Atlan logs in as `username` with an RDS IAM token made from it. */
  static user(options: { readonly accessKeyId: string; readonly secretAccessKey: Secret | string }): PostgresIamAuth {
    return new PostgresIamAuth({ type: 'iam-user', accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey });
  }

  /** An IAM role Atlan assumes (with your external id) to make the RDS IAM token. */
  static role(options: { readonly roleArn: string; readonly externalId: string }): PostgresIamAuth {
    return new PostgresIamAuth({ type: 'iam-role', roleArn: options.roleArn, externalId: options.externalId });
  }

  private constructor(
    /** @internal */
    readonly props: { readonly type: 'iam-user'; readonly accessKeyId: string; readonly secretAccessKey: Secret | string } | { readonly type: 'iam-role'; readonly roleArn: string; readonly externalId: string },
  ) {}
}

/** Offline extraction: metadata files a self-run extractor left in an S3 bucket. */
export interface PostgresOfflineExtraction {
  readonly bucket: string;
  /** Everything after the bucket name, the path included. */
  readonly prefix: string;
  /** @default - the bucket's */
  readonly region?: string;
}

/** When a deploy runs the crawl. */
export type PostgresCrawlerRunOnDeploy = 'always' | 'on-change' | 'never';

/** Props of {@link PostgresCrawler}. */
export interface PostgresCrawlerProps extends ManagedResourceOptions {
  readonly tenant: AtlanTenant;
  /** The Atlan connection the assets live in; unique per tenant among Postgres connections. */
  readonly connectionName: string;
  /** The connection's admins: at least one role, group or user. */
  readonly admins: PostgresCrawlerAdmins;
  /** The most rows any asset of the connection may show. @default 10000 */
  readonly rowLimit?: number;
  /** Allow queries against the connection. @default true */
  readonly allowQuery?: boolean;
  /** Allow sample-data previews. @default true */
  readonly allowQueryPreview?: boolean;

  /** The Postgres host, for direct extraction: a string, a reference (`endpoint.host`) or a Secret. @default - required unless `offline` */
  readonly host?: string | Secret;
  /** @default 5432 */
  readonly port?: number;
  /** The database to crawl. @default - required unless `offline` */
  readonly database?: string;
  /** The database user the crawler logs in as: a string, a reference (`credential.username`) or a Secret. @default - required unless `offline` */
  readonly username?: string | Secret;
  /**
   * Its password (basic authentication): a Secret or a reference (`credential.password`); never
   * synthesized, masked in every log line. @default - required unless `iam` or `offline`
   */
  readonly password?: string | Secret;
  /** AWS IAM authentication instead of a password. @default - basic authentication */
  readonly iam?: PostgresIamAuth;
  /** Crawl metadata files from S3 instead of the database (needs the legacy workflow API). @default - direct extraction */
  readonly offline?: PostgresOfflineExtraction;

  /** Only these schemas: database → schemas (an empty list: every schema of the database). @default - everything */
  readonly include?: Record<string, string[]>;
  /** Never these schemas: database → schemas (wins over `include`). @default - nothing */
  readonly exclude?: Record<string, string[]>;
  /** Skip tables and views whose whole name matches this regular expression, e.g. `'.*_TEST'`. @default - none */
  readonly excludeRegex?: string;
  /** Fetch only the included schemas from the source (schema-level filtering at the source). @default false */
  readonly sourceLevelFiltering?: boolean;
  /** Use the JDBC driver's internal methods for extraction. @default true */
  readonly jdbcInternalMethods?: boolean;
  /**
   * When a deploy runs the crawl (and waits for it, failing the deploy if it fails): `'on-change'`
   * when the crawler's settings changed (or an interrupted deploy left a run that failed),
   * `'always'` on every deploy, `'never'` (Atlan's schedules or the UI run it).
   * @default 'on-change'
   */
  readonly runOnDeploy?: PostgresCrawlerRunOnDeploy;
}

const show = (value: unknown) => (value === undefined ? '(missing)' : Secret.isSecret(value) ? `Secret.fromEnv('${value.variableName}')` : JSON.stringify(value));

/**
 * Atlan's Postgres crawler for one connection: one workflow, one credential and one Connection
 * for the construct's whole life. A deploy makes them once, updates them in place when the props
 * change (the connection keeps its qualified name and assets), and runs the crawl as
 * `runOnDeploy` says, waiting for it (the construct's `timeout` bounds the wait; a deploy cut
 * short resumes waiting for the same run). An unchanged deploy submits nothing.
 *
 * Removal: by default the workflow is archived and the credential purged, while the connection
 * and its assets stay in Atlan (a crawler declared again with the same `connectionName` crawls
 * into it again). With an explicit `removalPolicy: RemovalPolicy.DESTROY` the connection and its
 * assets are deleted too (Atlan's connection-delete package, soft delete); with
 * `RemovalPolicy.RETAIN` pgstacks leaves everything in place and only forgets it.
 */
export class PostgresCrawler extends ManagedResource<PostgresCrawlerOutputs> {
  readonly tenant: AtlanTenant;
  readonly connectionName: string;

  constructor(scope: Construct, id: string, props: PostgresCrawlerProps) {
    const path = `${scope.node.path}/${id}`;
    const problems: string[] = [];
    const problem = (field: string, value: unknown, message: string) => problems.push(`${field} = ${show(value)}: ${message}`);
    let source: Record<string, unknown>;
    if (props.offline) {
      for (const field of ['host', 'port', 'database', 'username', 'password', 'iam'] as const) {
        if (props[field] !== undefined) problem(field, props[field], 'offline extraction reads files from S3, not the database: remove it, or remove offline');
      }
      source = { extraction: 's3', bucket: props.offline.bucket, prefix: props.offline.prefix, region: props.offline.region };
    } else {
      const required = (field: 'host' | 'database' | 'username', fix: string) => {
        if (props[field] === undefined || props[field] === '') problem(field, props[field], `direct extraction needs it: ${fix} (or give offline for extraction from S3)`);
      };
      required('host', 'the Postgres host, e.g. endpoint.host');
      required('database', 'the database to crawl');
      required('username', 'the database user the crawler logs in as, e.g. credential.username');
      const iam = props.iam?.props;
      if (iam && props.password !== undefined) problem('password', props.password, 'IAM authentication uses no password: remove it, or remove iam');
      if (!iam && props.password === undefined) problem('password', undefined, "basic authentication needs the user's password, e.g. Secret.fromEnv('PG_PASSWORD') or credential.password (or give iam)");
      const auth =
        iam?.type === 'iam-user' ? { type: 'iam-user', username: props.username, accessKeyId: iam.accessKeyId, secretAccessKey: iam.secretAccessKey }
        : iam?.type === 'iam-role' ? { type: 'iam-role', username: props.username, roleArn: iam.roleArn, externalId: iam.externalId }
        : { type: 'basic', username: props.username, password: props.password };
      source = { extraction: 'direct', host: props.host, port: props.port ?? 5432, database: props.database, auth };
    }
    if (problems.length > 0) throw new PropsValidationError(`Invalid props for PostgresCrawler at '${path}':\n${problems.map((p) => `  - ${p}`).join('\n')}`);

    super(
      scope,
      id,
      postgresCrawlerType,
      {
        tenant: props.tenant.connection(scope),
        connectionName: props.connectionName,
        admins: { roles: props.admins?.roles, groups: props.admins?.groups, users: props.admins?.users },
        rowLimit: props.rowLimit ?? 10000,
        allowQuery: props.allowQuery ?? true,
        allowQueryPreview: props.allowQueryPreview ?? true,
        source,
        include: props.include,
        exclude: props.exclude,
        excludeRegex: props.excludeRegex,
        sourceLevelFiltering: props.sourceLevelFiltering ?? false,
        jdbcInternalMethods: props.jdbcInternalMethods ?? true,
        runOnDeploy: props.runOnDeploy ?? 'on-change',
        // Only an explicit DESTROY deletes the connection and its assets; the default keeps them.
        deleteConnection: props.removalPolicy === RemovalPolicy.DESTROY,
      },
      props,
    );
    this.tenant = props.tenant;
    this.connectionName = props.connectionName;
  }

  /** The connection's qualified name, `default/postgres/<epoch>` (fixed for the crawler's life). */
  get connectionQualifiedName(): string {
    return this.getAttribute('connectionQualifiedName');
  }

  /** The legacy workflow's name (`atlan-postgres-<epoch>`), or the App workflow's slug. */
  get workflowName(): string {
    return this.getAttribute('workflowName');
  }

  /** The credential's guid (`''` for offline extraction). */
  get credentialGuid(): string {
    return this.getAttribute('credentialGuid');
  }
}
