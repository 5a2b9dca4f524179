import { Token } from 'cdktf';
import type { Construct, IConstruct } from 'constructs';
import { connectionSchema } from '../../src/resources/splitgraph/connection';
import type { ConnectionMarker } from '../../src/runtime/spec';
import { DEFAULT_POSTGRES_PORT, DEFAULT_SSL_MODE, type PostgresSslMode } from '../../src/services/splitgraph';
import { ServiceConnection } from '../core/connection';
import { PropsValidationError, toSpecProps, validateProps } from '../core/props';
import type { Secret } from '../core/secret';
import type { LakebaseCredential, LakebaseEndpoint } from '../databricks/lakebase';

export type { PostgresSslMode };

/** Props of {@link PostgresConnection}. */
export interface PostgresConnectionProps {
  /** The server's host name or address (a reference such as `endpoint.host` works). */
  readonly host: string;
  /** @default 5432 */
  readonly port?: number;
  /** The database the engine lives in. */
  readonly database: string;
  /** The Postgres user (a reference such as `credential.username` works). */
  readonly user: string;
  /**
   * The user's password: `Secret.fromEnv('PG_PASSWORD')`, or a reference to a secret output such
   * as `credential.password`. A literal string is refused: it would be written into
   * `cdk.tf.json` and Terraform's state.
   * @default - none (the server lets the user in without one)
   */
  readonly password?: Secret | string;
  /**
   * TLS: `disable`, `require` (encrypted, the certificate not checked, as libpq's
   * `sslmode=require`: works with the sandbox's self-signed endpoints) or `verify-full` (the
   * certificate and host name checked against Node's trusted CAs).
   * @default 'require'
   */
  readonly sslMode?: PostgresSslMode;
}

/** Props of {@link PostgresConnection.fromLakebase}. */
export interface LakebaseConnectionProps {
  /** The endpoint to connect to (its `host` and `port`). */
  readonly endpoint: LakebaseEndpoint;
  /** A credential on that endpoint: its `username` and `password` (renewed by deploys, which the engine's resources then use). */
  readonly credential: LakebaseCredential;
  /** @default 'databricks_postgres' - the database every branch starts with */
  readonly database?: string;
  /** @default 'require' - Lakebase requires TLS */
  readonly sslMode?: PostgresSslMode;
}

/**
 * A Postgres database and the login pgstacks uses there, for the Splitgraph engine's resources.
 * It creates nothing itself; it is declared once and referenced, so a rotated password is one
 * change in Terraform's plan. The user must be allowed to create schemas in the database (its
 * owner, or granted CREATE) to install the engine.
 */
export class PostgresConnection extends ServiceConnection {
  /** A Lakebase endpoint, logged in to with a generated credential (the deploying identity). */
  static fromLakebase(scope: Construct, id: string, props: LakebaseConnectionProps): PostgresConnection {
    if (props.credential.endpoint !== props.endpoint) {
      throw new PropsValidationError(
        `Invalid props for PostgresConnection at '${scope.node.path}/${id}':\n  - credential = ${props.credential.node.path}: it logs in at ${props.credential.endpoint.node.path}, not at ${props.endpoint.node.path}; pass a LakebaseCredential made for this endpoint`,
      );
    }
    return new PostgresConnection(scope, id, {
      host: props.endpoint.host,
      port: props.endpoint.port,
      database: props.database ?? 'databricks_postgres',
      user: props.credential.username,
      password: props.credential.password,
      sslMode: props.sslMode,
    });
  }

  /** The host (possibly a deploy-time reference). */
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly sslMode: PostgresSslMode;

  constructor(scope: Construct, id: string, props: PostgresConnectionProps) {
    const path = `${scope.node.path}/${id}`;
    if (typeof props.password === 'string' && !Token.isUnresolved(props.password)) {
      throw new PropsValidationError(
        `Invalid props for PostgresConnection at '${path}':\n  - password = (a literal string, not shown): it would be written into cdk.tf.json and Terraform's state; ` +
          `pass Secret.fromEnv('<VARIABLE>') (read at deploy time) or a reference to a secret output such as credential.password`,
      );
    }
    const connection = {
      host: props.host,
      port: props.port ?? DEFAULT_POSTGRES_PORT,
      database: props.database,
      user: props.user,
      password: props.password,
      sslMode: props.sslMode ?? DEFAULT_SSL_MODE,
    };
    validateProps(connectionSchema, toSpecProps(connection).props, path, 'PostgresConnection');
    super(scope, id, connection);
    this.host = connection.host;
    this.port = connection.port;
    this.database = connection.database;
    this.user = connection.user;
    this.sslMode = connection.sslMode;
  }

  /** @internal What the props of a resource on this database hold: a reference to this connection. */
  connection(consumer: IConstruct): ConnectionMarker {
    return this.referenceFrom(consumer);
  }
}
