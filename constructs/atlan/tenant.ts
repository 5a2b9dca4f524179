import type { Construct, IConstruct } from 'constructs';
import { tenantSchema, type AtlanApiChoice } from '../../src/resources/atlan/tenant';
import type { ConnectionMarker } from '../../src/runtime/spec';
import { ATLAN_ENVIRONMENT } from '../../src/services/atlan';
import { ServiceConnection } from '../core/connection';
import { toSpecProps, validateProps } from '../core/props';
import { Secret } from '../core/secret';

export type { AtlanApiChoice } from '../../src/resources/atlan/tenant';

/** Props of {@link AtlanTenant}. */
export interface AtlanTenantProps {
  /** The tenant's URL with no path, e.g. `https://acme.atlan.com`. */
  readonly baseUrl: string;
  /** An Atlan API key (Admin center → API keys), read at deploy time. */
  readonly apiKey: Secret;
  /**
   * Which workflow API new crawlers use: `'workflow'` (the legacy package workflows), `'app'` (the
   * App API), or `'auto'`: the App API where the tenant serves it, else the legacy one (offline
   * extraction from S3 always uses the legacy one). A crawler stays on the API it was made with.
   * @default 'auto'
   */
  readonly api?: AtlanApiChoice;
}

/** Options of {@link AtlanTenant.fromEnvironment}. */
export interface AtlanTenantFromEnvironmentOptions {
  /** @default 'auto' */
  readonly api?: AtlanApiChoice;
  /** Where `ATLAN_BASE_URL` is read from at synth. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * An Atlan tenant and the API key pgstacks deploys to it with. It creates nothing itself; Atlan
 * resources (a {@link PostgresCrawler}) take it as their `tenant`.
 */
export class AtlanTenant extends ServiceConnection {
  /**
   * The tenant named by the environment: `ATLAN_BASE_URL` at synth, the API key from
   * `ATLAN_API_KEY` at deploy — the variables the Atlan SDKs read, and that `npx pgstacks sandbox`
   * prints.
   */
  static fromEnvironment(scope: Construct, id: string, options: AtlanTenantFromEnvironmentOptions = {}): AtlanTenant {
    const env = options.env ?? process.env;
    const baseUrl = env[ATLAN_ENVIRONMENT.baseUrl];
    if (!baseUrl) {
      throw new Error(`${scope.node.path}/${id}: AtlanTenant.fromEnvironment needs ${ATLAN_ENVIRONMENT.baseUrl} (e.g. https://acme.atlan.com); export it (\`npx pgstacks sandbox\` prints it for the sandbox)`);
    }
    return new AtlanTenant(scope, id, { baseUrl, apiKey: Secret.fromEnv(ATLAN_ENVIRONMENT.apiKey), api: options.api });
  }

  /** The tenant's URL, without a trailing slash. */
  readonly baseUrl: string;
  readonly api: AtlanApiChoice;

  constructor(scope: Construct, id: string, props: AtlanTenantProps) {
    if (!Secret.isSecret(props.apiKey)) {
      throw new Error(`Invalid props for AtlanTenant at '${scope.node.path}/${id}':\n  - apiKey: pass a Secret (e.g. Secret.fromEnv('ATLAN_API_KEY')), so the key never reaches cdk.tf.json`);
    }
    const baseUrl = props.baseUrl.replace(/\/+$/, '');
    const connection = { baseUrl, apiKey: props.apiKey, api: props.api ?? 'auto' };
    validateProps(tenantSchema, toSpecProps(connection).props, `${scope.node.path}/${id}`, 'AtlanTenant');
    super(scope, id, connection);
    this.baseUrl = baseUrl;
    this.api = connection.api;
  }

  /** @internal What the props of a resource on this tenant hold: a reference to this connection. */
  connection(consumer: IConstruct): ConnectionMarker {
    return this.referenceFrom(consumer);
  }
}
