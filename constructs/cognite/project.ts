import type { Construct, IConstruct } from 'constructs';
import type { ConnectionMarker } from '../../src/runtime/spec';
import { ServiceConnection } from '../core/connection';
import * as z from 'zod';
import { cogniteProjectSchema } from '../../src/resources/cognite/project';
import { toSpecProps, validateProps } from '../core/props';
import { COGNITE_ENVIRONMENT } from '../../src/services/cognite';
import { Secret } from '../core/secret';

/** OAuth client credentials: an app registration's id and secret. */
export interface ClientCredentials {
  readonly clientId: string;
  /** Read from the environment at deploy time. */
  readonly clientSecret: Secret;
}

/** Options of {@link CogniteAuth.clientCredentials}. */
export interface ClientCredentialsAuthOptions extends ClientCredentials {
  /** The identity provider's OAuth 2.0 token endpoint. */
  readonly tokenUrl: string;
  /**
   * Scopes to request.
   * @default - `['<baseUrl>/.default']`, as Entra ID expects for CDF
   */
  readonly scopes?: string[];
}

/** How pgstacks authenticates to CDF. */
export class CogniteAuth {
  /** The OAuth 2.0 client-credentials flow against any identity provider. */
  static clientCredentials(options: ClientCredentialsAuthOptions): CogniteAuth {
    return new CogniteAuth(options.tokenUrl, { clientId: options.clientId, clientSecret: options.clientSecret }, options.scopes);
  }

  /** Client credentials against Microsoft Entra ID: the token URL is built from the tenant id. */
  static entraId(options: ClientCredentials & { readonly tenantId: string }): CogniteAuth {
    return new CogniteAuth(`https://login.microsoftonline.com/${encodeURIComponent(options.tenantId)}/oauth2/v2.0/token`, options);
  }

  private constructor(
    readonly tokenUrl: string,
    readonly credentials: ClientCredentials,
    readonly scopes?: string[],
  ) {}
}

/** Props of {@link CogniteProject}. */
export interface CogniteProjectProps {
  /**
   * The CDF cluster, e.g. `westeurope-1`; the API is `https://{cluster}.cognitedata.com`.
   * @default - required unless `baseUrl` is given
   */
  readonly cluster?: string;
  /** The project's URL name, e.g. `acme`. */
  readonly project: string;
  /** How pgstacks authenticates. */
  readonly auth: CogniteAuth;
  /**
   * The API base URL, to deploy somewhere other than `cluster`, such as the pgstacks sandbox.
   * @default `https://{cluster}.cognitedata.com`
   */
  readonly baseUrl?: string;
}

const clusterSchema = z.object({
  cluster: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'expected a cluster name such as westeurope-1').optional(),
});

/**
 * A Cognite Data Fusion project and the credentials pgstacks deploys to it with. It creates
 * nothing itself; Cognite resources take it as their `project`.
 */
export class CogniteProject extends ServiceConnection {
  /**
   * The project named by the environment at synth — `CDF_BASE_URL` (or `CDF_CLUSTER`),
   * `CDF_PROJECT` (default `acme`), `CDF_TOKEN_URL` (or `CDF_TENANT_ID` for Entra ID),
   * `CDF_CLIENT_ID` — with the client secret read from `CDF_CLIENT_SECRET` at deploy time.
   * `npx pgstacks sandbox` prints exactly these, so the same code deploys to the sandbox and to a
   * real cluster.
   */
  static fromEnvironment(scope: Construct, id: string, env: NodeJS.ProcessEnv = process.env): CogniteProject {
    const names = COGNITE_ENVIRONMENT;
    const required = (name: string): string => {
      const value = env[name];
      if (!value) throw new Error(`${scope.node.path}/${id}: CogniteProject.fromEnvironment needs ${name}; export it (\`npx pgstacks sandbox\` prints it for the sandbox)`);
      return value;
    };
    const clientId = required(names.clientId);
    const clientSecret = Secret.fromEnv(names.clientSecret);
    const auth = env.CDF_TENANT_ID
      ? CogniteAuth.entraId({ tenantId: env.CDF_TENANT_ID, clientId, clientSecret })
      : CogniteAuth.clientCredentials({ tokenUrl: required(names.tokenUrl), clientId, clientSecret });
    const where = env[names.baseUrl] ? { baseUrl: env[names.baseUrl] } : { cluster: required('CDF_CLUSTER') };
    return new CogniteProject(scope, id, { project: env[names.project] || 'acme', auth, ...where });
  }

  /** The API base URL. */
  readonly baseUrl: string;
  /** The project's URL name. */
  readonly project: string;
  readonly auth: CogniteAuth;

  constructor(scope: Construct, id: string, props: CogniteProjectProps) {
    const path = `${scope.node.path}/${id}`;
    validateProps(clusterSchema, { ...(props.cluster === undefined ? {} : { cluster: props.cluster }) }, path, 'CogniteProject');
    if (!props.cluster && !props.baseUrl) {
      throw new Error(`Invalid props for CogniteProject at '${path}':\n  - cluster = (missing): give the CDF cluster (e.g. westeurope-1) or a baseUrl`);
    }
    const baseUrl = (props.baseUrl ?? `https://${props.cluster}.cognitedata.com`).replace(/\/+$/, '');
    const connection = {
      baseUrl,
      project: props.project,
      tokenUrl: props.auth.tokenUrl,
      scopes: props.auth.scopes ?? [`${baseUrl}/.default`],
      credentials: { clientId: props.auth.credentials.clientId, clientSecret: props.auth.credentials.clientSecret },
    };
    validateProps(cogniteProjectSchema, toSpecProps(connection).props, path, 'CogniteProject');
    super(scope, id, connection);
    this.baseUrl = baseUrl;
    this.project = props.project;
    this.auth = props.auth;
  }

  /** @internal What the props of a resource in this project hold: a reference to this connection. */
  connection(consumer: IConstruct): ConnectionMarker {
    return this.referenceFrom(consumer);
  }
}
