import { Construct } from 'constructs';
import { LakebaseCredential, PostgresCrawler, type AtlanTenant, type LakebaseEndpoint, type PostgresCrawlerRunOnDeploy } from 'pgstacks';

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
}

/**
 * Catalogs what a stack deploys on Lakebase in Atlan: a crawler over a Lakebase endpoint, logging
 * in with a short-lived credential of its own (generated at deploy, renewed by later deploys), that
 * runs when its settings change and fails the deploy when the crawl fails. One workflow, one
 * credential and one Atlan connection for the construct's whole life.
 */
export class LakebaseInAtlan extends Construct {
  readonly login: LakebaseCredential;
  readonly crawler: PostgresCrawler;

  constructor(scope: Construct, id: string, props: LakebaseInAtlanProps) {
    super(scope, id);
    const database = props.database ?? 'databricks_postgres';
    this.login = new LakebaseCredential(this, 'login', { endpoint: props.endpoint });
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
