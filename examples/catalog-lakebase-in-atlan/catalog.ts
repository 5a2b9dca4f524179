import { Construct } from 'constructs';
import { DatabricksAuth, DatabricksWorkspace, LakebaseCredential, LakebaseRole, PostgresCrawler, Secret, type AtlanTenant, type LakebaseEndpoint, type PostgresCrawlerRunOnDeploy } from 'pgstacks';

/** Props of {@link LakebaseInAtlan}. */
export interface LakebaseInAtlanProps {
  readonly tenant: AtlanTenant;
  /** The Lakebase endpoint whose databases Atlan catalogs. */
  readonly endpoint: LakebaseEndpoint;
  /** The database to crawl. @default 'databricks_postgres' */
  readonly database?: string;
  /** The schemas to catalog. @default - every schema but `scratch` */
  readonly schemas?: string[];
  /** The Atlan connection's name. @default 'lakebase-<construct id>' */
  readonly connectionName?: string;
  /** @default 'on-change' */
  readonly runOnDeploy?: PostgresCrawlerRunOnDeploy;
  /**
   * The crawler's own Databricks identity (a service principal, OAuth M2M): it gets a Lakebase role
   * of its own on the endpoint's branch, and the crawler logs in as it.
   * @default - the identity pgstacks deploys with
   */
  readonly crawlerIdentity?: DatabricksWorkspace;
}

/**
 * The crawler's own service principal from the environment at synth, if `LAKEBASE_CRAWLER_CLIENT_ID`
 * is set (its secret, `LAKEBASE_CRAWLER_CLIENT_SECRET`, is read at deploy); else undefined.
 */
export function crawlerIdentityFromEnvironment(scope: Construct, id: string, workspace: DatabricksWorkspace, env: NodeJS.ProcessEnv = process.env): DatabricksWorkspace | undefined {
  const clientId = env.LAKEBASE_CRAWLER_CLIENT_ID;
  if (!clientId) return undefined;
  return new DatabricksWorkspace(scope, id, { host: workspace.host, auth: DatabricksAuth.oauthM2M({ clientId, clientSecret: Secret.fromEnv('LAKEBASE_CRAWLER_CLIENT_SECRET') }) });
}

/**
 * Catalogs what a stack deploys on Lakebase in Atlan: a crawler over a Lakebase endpoint that logs
 * in as a role of its own (its service principal's, a member of `DATABRICKS_SUPERUSER` so it can
 * read every schema: the only grant the Lakebase API offers) with a short-lived credential
 * generated at deploy and renewed by later deploys. It runs when its settings change and fails
 * the deploy when the crawl fails. One workflow, one credential and one Atlan connection for the
 * construct's whole life.
 */
export class LakebaseInAtlan extends Construct {
  readonly login: LakebaseCredential;
  /** The crawler's role, when it has an identity of its own. */
  readonly role?: LakebaseRole;
  readonly crawler: PostgresCrawler;

  constructor(scope: Construct, id: string, props: LakebaseInAtlanProps) {
    super(scope, id);
    const database = props.database ?? 'databricks_postgres';
    const identity = props.crawlerIdentity;
    if (identity && !identity.clientId) throw new Error(`${this.node.path}: crawlerIdentity must be a service principal (DatabricksAuth.oauthM2M): its application id names its Postgres role`);
    this.role = identity
      ? new LakebaseRole(this, 'role', {
          branch: props.endpoint.branch,
          roleId: 'atlan-crawler',
          postgresRole: identity.clientId as string,
          identityType: 'SERVICE_PRINCIPAL',
          membershipRoles: ['DATABRICKS_SUPERUSER'],
        })
      : undefined;
    this.login = new LakebaseCredential(this, 'login', { endpoint: props.endpoint, identity, role: this.role });
    this.crawler = new PostgresCrawler(this, 'crawler', {
      tenant: props.tenant,
      connectionName: props.connectionName ?? `lakebase-${id}`,
      admins: { roles: ['$admin'] },
      host: props.endpoint.host,
      port: 5432,
      database,
      username: this.login.username,
      password: this.login.password,
      ...(props.schemas ? { include: { [database]: props.schemas } } : { exclude: { [database]: ['scratch'] } }),
      runOnDeploy: props.runOnDeploy,
    });
  }
}
