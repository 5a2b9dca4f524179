/**
 * The Databricks client for the Lakebase Postgres API (`/api/2.0/postgres/…`) on the shared client
 * base (json-api.ts): PAT or OAuth M2M auth (oauth.ts), Databricks' error body, and the calls the
 * Lakebase resource types make. Resources are addressed by their full name (`projects/p/branches/b`),
 * appended to the API path with its slashes, as the official SDKs do.
 */
import { VERSION as version } from '../version';
import { ApiError, type ApiErrorInit, type ParsedErrorBody } from './errors';
import { RETRY_IDEMPOTENT, type RetryTiming } from './http';
import { JsonApi, type Query } from './json-api';
import { bearerToken, clientCredentials, type AuthProvider } from './oauth';

/** A personal access token, or a service principal's OAuth M2M credentials. */
export interface DatabricksAuth {
  readonly token?: string;
  readonly clientId?: string;
  readonly clientSecret?: string;
}

export interface DatabricksConnection {
  /** The workspace URL, e.g. `https://acme.cloud.databricks.com`. */
  readonly host: string;
  readonly auth: DatabricksAuth;
}

export interface DatabricksClientOptions {
  readonly timing?: RetryTiming;
  /** Per request: how long to wait for an answer. @default 60000 */
  readonly timeoutMs?: number;
  readonly log?: (message: string) => void;
  readonly signal?: AbortSignal;
}

/** One entry of an error's `details` (google.rpc.ErrorInfo and friends). */
export interface ErrorDetail {
  readonly '@type'?: string;
  readonly reason?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly [key: string]: unknown;
}

/** A Databricks error: the HTTP status, `error_code` and the `details` list. */
export class DatabricksApiError extends ApiError {
  override name = 'DatabricksApiError';
  readonly errorCode: string | undefined;
  readonly errorDetails: readonly ErrorDetail[];

  constructor(init: ApiErrorInit) {
    const { errorDetails, ...details } = init.details ?? {};
    super({ ...init, details });
    this.errorCode = details.error_code as string | undefined;
    this.errorDetails = (errorDetails as ErrorDetail[] | undefined) ?? [];
  }

  /**
   * The object is managed by its parent (a root branch, a branch's read-write endpoint): the
   * service refuses to delete it alone and removes it with the parent.
   */
  get managedByParent(): boolean {
    return this.errorDetails.some((d) => d.metadata?.declarative_context === 'MANAGED_BY_PARENT');
  }

  /** Another operation is running on the same branch: wait and send the change again. */
  get conflictingOperation(): boolean {
    return /conflicting operations|reconciliation/i.test(this.serviceMessage) && (this.status === 409 || this.status === 400);
  }

  /** The name is taken (409 ALREADY_EXISTS, or 400 "… with that name already exists" for roles and databases). */
  get alreadyExists(): boolean {
    return this.errorCode === 'ALREADY_EXISTS' || this.errorCode === 'RESOURCE_ALREADY_EXISTS' || /already exists/i.test(this.serviceMessage);
  }
}

/** Databricks' error body: `{"error_code", "message", "details": [...]}`. */
export function parseDatabricksError(body: unknown): ParsedErrorBody | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as { error_code?: unknown; message?: unknown; details?: unknown; error?: unknown; error_description?: unknown };
  const message = [b.message, b.error_description, b.error].find((m): m is string => typeof m === 'string' && m.length > 0);
  return { message, details: { error_code: typeof b.error_code === 'string' ? b.error_code : undefined, errorDetails: Array.isArray(b.details) ? b.details : undefined } };
}

/** A long-running operation as Lakebase answers it. */
export interface LakebaseOperation<R = LakebaseObject> {
  readonly name: string;
  readonly done?: boolean;
  readonly error?: { readonly error_code?: string; readonly message?: string };
  readonly response?: R;
  readonly metadata?: unknown;
}

/** A Lakebase resource as GET answers it: names and ids, and `status` (not `spec`). */
export interface LakebaseObject {
  readonly name: string;
  readonly uid?: string;
  readonly parent?: string;
  readonly status?: Record<string, unknown>;
  readonly spec?: Record<string, unknown>;
  readonly create_time?: string;
  readonly update_time?: string;
  readonly delete_time?: string;
  readonly [key: string]: unknown;
}

export interface DatabaseCredential {
  readonly token: string;
  readonly expire_time: string;
}

const API = '/api/2.0/postgres';

export class DatabricksClient {
  private readonly api: JsonApi;

  constructor(
    readonly connection: DatabricksConnection,
    options: DatabricksClientOptions = {},
  ) {
    const host = connection.host.replace(/\/+$/, '');
    const { token, clientId = '', clientSecret = '' } = connection.auth;
    const auth: AuthProvider =
      token !== undefined
        ? bearerToken(token)
        : clientCredentials({
            service: 'Databricks',
            tokenUrl: `${host}/oidc/v1/token`,
            clientId,
            clientSecret,
            params: { scope: 'all-apis' },
            clientAuth: 'basic',
            timing: options.timing,
            timeoutMs: options.timeoutMs,
            log: options.log,
          });
    this.api = new JsonApi({
      service: 'Databricks',
      baseUrl: host,
      headers: { 'user-agent': `pgstacks/${version}` },
      auth,
      // Creates name their object (a repeat answers ALREADY_EXISTS); updates set fields; deletes
      // of a missing object answer 404. Nothing here duplicates when sent twice.
      retry: RETRY_IDEMPOTENT,
      timing: options.timing,
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      log: options.log,
      parseError: parseDatabricksError,
      createError: (init) => new DatabricksApiError(init),
    });
  }

  /** Starts getting the OAuth token the first call will need (none with a personal access token), without waiting for it. */
  warmUp(): void {
    this.api.warmUp();
  }

  /** Creates `<parent>/<collection>/<id>` (or `<collection>/<id>` at the top); answers an operation. */
  create(parent: string | undefined, collection: string, idParam: string, id: string, body: unknown, query: Query = {}): Promise<LakebaseOperation> {
    return this.api.call('POST', `${API}/${parent ? `${parent}/` : ''}${collection}`, { body, query: { [idParam]: id, ...query } });
  }

  /** The object, or `undefined` when it (or a parent) does not exist. */
  async get<T extends LakebaseObject = LakebaseObject>(name: string): Promise<T | undefined> {
    try {
      return await this.api.call<T>('GET', `${API}/${name}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** Every object of a collection, following `next_page_token`. */
  list<T extends LakebaseObject = LakebaseObject>(parent: string | undefined, collection: string, query: Query = {}): Promise<T[]> {
    return this.api.listAll<T>(`${API}/${parent ? `${parent}/` : ''}${collection}`, { items: collection, cursorField: 'next_page_token', cursorParam: 'page_token', query });
  }

  /** Changes the fields named by `mask` (paths such as `spec.display_name`). */
  update(name: string, body: unknown, mask: readonly string[]): Promise<LakebaseOperation> {
    return this.api.call('PATCH', `${API}/${name}`, { body, query: { update_mask: mask.join(',') } });
  }

  delete(name: string, query: Query = {}): Promise<LakebaseOperation> {
    return this.api.call('DELETE', `${API}/${name}`, { query });
  }

  operation(name: string, signal?: AbortSignal): Promise<LakebaseOperation> {
    return this.api.call('GET', `${API}/${name}`, { signal });
  }

  /** The calling identity (SCIM `Me`): its `userName` is a user's email or a service principal's application id. */
  currentUser(): Promise<{ userName: string; id?: string }> {
    return this.api.call('GET', '/api/2.0/preview/scim/v2/Me');
  }

  /** A short-lived Postgres password for the calling identity (`ttlSeconds` 300–3600). */
  generateDatabaseCredential(endpoint: string, ttlSeconds?: number): Promise<DatabaseCredential> {
    return this.api.call('POST', `${API}/credentials`, { body: { endpoint, ...(ttlSeconds ? { ttl: `${ttlSeconds}s` } : {}) } });
  }
}
