import type { Construct, IConstruct } from 'constructs';
import { workspaceSchema } from '../../src/resources/databricks/workspace';
import type { ConnectionMarker } from '../../src/runtime/spec';
import { DATABRICKS_ENVIRONMENT } from '../../src/services/databricks';
import { ServiceConnection } from '../core/connection';
import { toSpecProps, validateProps } from '../core/props';
import { Secret } from '../core/secret';

/** How pgstacks authenticates to a Databricks workspace. */
export class DatabricksAuth {
  /** A personal access token. */
  static token(token: Secret): DatabricksAuth {
    return new DatabricksAuth({ token });
  }

  /** OAuth machine-to-machine: a service principal's application id and OAuth secret. */
  static oauthM2M(options: { readonly clientId: string; readonly clientSecret: Secret }): DatabricksAuth {
    return new DatabricksAuth({ clientId: options.clientId, clientSecret: options.clientSecret });
  }

  private constructor(
    /** @internal */
    readonly props: { readonly token: Secret } | { readonly clientId: string; readonly clientSecret: Secret },
  ) {}
}

/** Props of {@link DatabricksWorkspace}. */
export interface DatabricksWorkspaceProps {
  /** The workspace URL, e.g. `https://acme.cloud.databricks.com`. */
  readonly host: string;
  /** How pgstacks authenticates. */
  readonly auth: DatabricksAuth;
}

/**
 * A Databricks workspace and the identity pgstacks deploys to it with. It creates nothing itself;
 * Lakebase projects take it as their `workspace`.
 */
export class DatabricksWorkspace extends ServiceConnection {
  /**
   * The workspace named by the environment at synth — `DATABRICKS_HOST`, and either
   * `DATABRICKS_CLIENT_ID` (OAuth M2M, with the secret read from `DATABRICKS_CLIENT_SECRET` at
   * deploy) or a token read from `DATABRICKS_TOKEN` at deploy — the variables the Databricks CLI
   * and SDKs read, and that `npx pgstacks sandbox` prints.
   */
  static fromEnvironment(scope: Construct, id: string, env: NodeJS.ProcessEnv = process.env): DatabricksWorkspace {
    const names = DATABRICKS_ENVIRONMENT;
    const host = env[names.host];
    if (!host) throw new Error(`${scope.node.path}/${id}: DatabricksWorkspace.fromEnvironment needs ${names.host}; export it (\`npx pgstacks sandbox\` prints it for the sandbox)`);
    const clientId = env[names.clientId];
    const auth = clientId ? DatabricksAuth.oauthM2M({ clientId, clientSecret: Secret.fromEnv(names.clientSecret) }) : DatabricksAuth.token(Secret.fromEnv(names.token));
    return new DatabricksWorkspace(scope, id, { host, auth });
  }

  /** The workspace URL. */
  readonly host: string;
  readonly auth: DatabricksAuth;
  /** The service principal's application id (its Postgres role name on Lakebase), with OAuth M2M. */
  readonly clientId?: string;

  constructor(scope: Construct, id: string, props: DatabricksWorkspaceProps) {
    const host = props.host.replace(/\/+$/, '');
    const connection = { host, auth: props.auth.props };
    validateProps(workspaceSchema, toSpecProps(connection).props, `${scope.node.path}/${id}`, 'DatabricksWorkspace');
    super(scope, id, connection);
    this.host = host;
    this.auth = props.auth;
    this.clientId = 'clientId' in props.auth.props ? props.auth.props.clientId : undefined;
  }

  /** @internal What the props of a resource in this workspace hold: a reference to this connection. */
  connection(consumer: IConstruct): ConnectionMarker {
    return this.referenceFrom(consumer);
  }
}
