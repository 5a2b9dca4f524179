/**
 * The Cognite Data Fusion client: the sessions, token-inspect and PostgreSQL Gateway endpoints on
 * the shared client base (json-api.ts: retries, 401 refresh, pagination; oauth.ts: tokens), plus
 * CDF's error shape.
 */
import { VERSION as version } from '../version';
import { GATEWAY_TABLES_PER_CALL, type GatewayColumnType } from '../services/cognite';
import { Batcher } from './batch';
import { ApiError, type ApiErrorInit, type ParsedErrorBody } from './errors';
import { RETRY_IDEMPOTENT, RETRY_ONLY_IF_NOT_DONE, type RetryPolicy, type RetryTiming } from './http';
import { JsonApi, type Query } from './json-api';
import { clientCredentials } from './oauth';

export interface ClientCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
}

export interface CogniteConnection {
  /** `https://{cluster}.cognitedata.com`, or the sandbox's. */
  readonly baseUrl: string;
  readonly project: string;
  readonly tokenUrl: string;
  readonly scopes: readonly string[];
  readonly credentials: ClientCredentials;
}

export interface CogniteClientOptions {
  readonly timing?: RetryTiming;
  /** Per request: how long to wait for an answer. @default 60000 */
  readonly timeoutMs?: number;
  /** One line per retry, token refresh and so on. */
  readonly log?: (message: string) => void;
  readonly signal?: AbortSignal;
}

/**
 * A CDF error: HTTP status, message, request id and the identifiers CDF names (`missing`,
 * `duplicated`). The Cognite flavour of {@link ApiError}, so it is also a NotFoundError,
 * ConflictError or RateLimitedError by its status.
 */
export class CogniteApiError extends ApiError {
  override name = 'CogniteApiError';
  readonly missing: ReadonlyArray<Record<string, unknown>>;
  readonly duplicated: ReadonlyArray<Record<string, unknown>>;

  constructor(init: ApiErrorInit) {
    super(init);
    this.missing = (init.details?.missing as Array<Record<string, unknown>> | undefined) ?? [];
    this.duplicated = (init.details?.duplicated as Array<Record<string, unknown>> | undefined) ?? [];
  }

  /** CDF's own message. */
  get cdfMessage(): string {
    return this.serviceMessage;
  }
}

/** CDF's error body: `{"error": {"code", "message", "missing"?, "duplicated"?}}`. */
export function parseCogniteError(body: unknown): ParsedErrorBody | undefined {
  const error = (body as { error?: { message?: string; missing?: unknown[]; duplicated?: unknown[] } } | undefined)?.error;
  return error && typeof error === 'object' ? { message: error.message, details: { missing: error.missing, duplicated: error.duplicated } } : undefined;
}

export interface TokenInspection {
  readonly subject: string;
  readonly projects: ReadonlyArray<{ projectUrlName: string; groups?: number[] }>;
  readonly capabilities: ReadonlyArray<Record<string, unknown>>;
}

export interface Session {
  readonly id: number;
  readonly type?: string;
  readonly status: string;
  readonly nonce: string;
  readonly clientId?: string;
}

export interface GatewayUser {
  readonly username: string;
  readonly createdTime: number;
  readonly lastUpdatedTime?: number;
  readonly sessionId?: number;
}

export interface CreatedGatewayUser extends GatewayUser {
  readonly host: string;
  readonly password: string;
  /** Only the pgstacks sandbox says; the real gateway listens on 5432. */
  readonly port?: number;
}

export { GATEWAY_BUILT_IN_TABLES, GATEWAY_COLUMN_TYPES, type GatewayColumnType } from '../services/cognite';

export type GatewayTableWrite =
  | {
      readonly type: 'raw_rows';
      readonly tablename: string;
      readonly options: { readonly database: string; readonly table: string; readonly primaryKey?: string };
      readonly columns: Record<string, { readonly type: GatewayColumnType }>;
    }
  | {
      readonly type: 'view';
      readonly tablename: string;
      readonly options: { readonly space: string; readonly externalId: string; readonly version?: string };
    };

export interface GatewayTable {
  readonly tablename: string;
  readonly type: string;
  readonly options?: Record<string, unknown>;
  readonly columns: Record<string, { type: string }> | Array<{ propertyName?: string; name?: string; type: string }>;
  readonly createdTime?: number;
}

const tableCreates = new Batcher<GatewayTableWrite, void>(GATEWAY_TABLES_PER_CALL);
const tableReads = new Batcher<string, GatewayTable | undefined>(GATEWAY_TABLES_PER_CALL);
const tableDeletes = new Batcher<string, void>(GATEWAY_TABLES_PER_CALL);

export class CogniteClient {
  private readonly api: JsonApi;

  constructor(
    readonly connection: CogniteConnection,
    options: CogniteClientOptions = {},
  ) {
    const { tokenUrl, scopes, credentials } = connection;
    const auth = clientCredentials({ service: 'CDF', tokenUrl, clientId: credentials.clientId, clientSecret: credentials.clientSecret, scopes, timing: options.timing, timeoutMs: options.timeoutMs, log: options.log });
    this.api = new JsonApi({
      service: 'CDF',
      baseUrl: connection.baseUrl,
      headers: { 'x-cdp-app': 'pgstacks', 'x-cdp-sdk': `pgstacks:${version}` },
      auth,
      // CDF's POSTs are reads (byids, list) or detect their own duplicates; the calls that make
      // something unnamed (sessions, gateway users) say RETRY_ONLY_IF_NOT_DONE.
      retry: RETRY_IDEMPOTENT,
      timing: options.timing,
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      log: options.log,
      parseError: parseCogniteError,
      createError: (init) => new CogniteApiError(init),
    });
  }

  /** Starts getting the access token the first call will need, without waiting for it. */
  warmUp(): void {
    this.api.warmUp();
  }

  /** `path` below `/api/v1/projects/{project}`, unless it starts with `/api/`. */
  private path(path: string): string {
    return path.startsWith('/api/') ? path : `/api/v1/projects/${encodeURIComponent(this.connection.project)}${path}`;
  }

  /**
   * One CDF call. `path` is below `/api/v1/projects/{project}` unless it starts with `/api/`.
   * A 401 refreshes the token and tries once more (a token may be revoked before it expires).
   */
  call<T>(method: 'GET' | 'POST', path: string, options: { body?: unknown; query?: Query; retry?: RetryPolicy } = {}): Promise<T> {
    return this.api.call<T>(method, this.path(path), options);
  }

  // ------------------------------------------------------- IAM and sessions

  inspectToken(): Promise<TokenInspection> {
    return this.call('GET', '/api/v1/token/inspect');
  }

  /** A client-credentials session; its nonce is valid for about a minute. Not retried blindly. */
  async createSession(credentials: ClientCredentials): Promise<Session> {
    const { items } = await this.call<{ items: Session[] }>('POST', '/sessions', {
      body: { items: [{ clientId: credentials.clientId, clientSecret: credentials.clientSecret }] },
      retry: RETRY_ONLY_IF_NOT_DONE,
    });
    return items[0];
  }

  async revokeSessions(ids: readonly number[]): Promise<void> {
    if (ids.length > 0) await this.call('POST', '/sessions/revoke', { body: { items: ids.map((id) => ({ id })) } });
  }

  // ---------------------------------------------------------- gateway users

  /** Creates a gateway user. Never retried where it might already have happened: its password would be lost. */
  async createGatewayUser(nonce: string): Promise<CreatedGatewayUser> {
    const { items } = await this.call<{ items: CreatedGatewayUser[] }>('POST', '/postgresgateway', {
      body: { items: [{ credentials: { nonce } }] },
      retry: RETRY_ONLY_IF_NOT_DONE,
    });
    return items[0];
  }

  async retrieveGatewayUser(username: string): Promise<GatewayUser | undefined> {
    const { items } = await this.call<{ items: GatewayUser[] }>('POST', '/postgresgateway/byids', {
      body: { items: [{ username }], ignoreUnknownIds: true },
    });
    return items[0];
  }

  async listGatewayUsers(): Promise<GatewayUser[]> {
    return this.listAll<GatewayUser>('/postgresgateway', {});
  }

  /** Binds the user to a new session (same username and password). */
  async updateGatewayUser(username: string, nonce: string): Promise<GatewayUser> {
    const { items } = await this.call<{ items: GatewayUser[] }>('POST', '/postgresgateway/update', {
      body: { items: [{ username, update: { credentials: { set: { nonce } } } }] },
    });
    return items[0];
  }

  /** Idempotent: an unknown username is not an error. */
  async deleteGatewayUser(username: string): Promise<void> {
    await this.call('POST', '/postgresgateway/delete', { body: { items: [{ username }], ignoreUnknownIds: true } });
  }

  // --------------------------------------------------------- gateway tables

  private tablesPath(username: string, suffix = ''): string {
    return `/postgresgateway/tables/${encodeURIComponent(username)}${suffix}`;
  }

  /**
   * Creates up to 10 tables, all or none. The handlers call {@link createGatewayTable}, which
   * shares this call with the other tables of the same user created at the same time.
   */
  async createGatewayTables(username: string, tables: readonly GatewayTableWrite[]): Promise<GatewayTable[]> {
    const { items } = await this.call<{ items: GatewayTable[] }>('POST', this.tablesPath(username), { body: { items: tables } });
    return items;
  }

  /** Creates one table, in a call shared with the user's other tables being created (see batch.ts). */
  async createGatewayTable(username: string, table: GatewayTableWrite): Promise<void> {
    await tableCreates.run(this.batchKey(username), table, async (tables) => {
      await this.createGatewayTables(username, tables);
      return tables.map(() => undefined);
    });
  }

  /** Up to 10 tables by name; unknown names are left out of the answer. */
  async retrieveGatewayTables(username: string, tablenames: readonly string[]): Promise<GatewayTable[]> {
    const { items } = await this.call<{ items: GatewayTable[] }>('POST', this.tablesPath(username, '/byids'), {
      body: { items: tablenames.map((tablename) => ({ tablename })), ignoreUnknownIds: true },
    });
    return items;
  }

  /** One table by name, in a call shared with the user's other tables being read. */
  retrieveGatewayTable(username: string, tablename: string): Promise<GatewayTable | undefined> {
    return tableReads.run(this.batchKey(username), tablename, async (names) => {
      const found = await this.retrieveGatewayTables(username, names);
      return names.map((name) => found.find((t) => t.tablename === name));
    });
  }

  listGatewayTables(username: string): Promise<GatewayTable[]> {
    return this.listAll<GatewayTable>(this.tablesPath(username), { includeBuiltIns: false });
  }

  /** Idempotent: unknown table names are ignored. Up to 10 per call. */
  async deleteGatewayTables(username: string, tablenames: readonly string[]): Promise<void> {
    await this.call('POST', this.tablesPath(username, '/delete'), { body: { items: tablenames.map((tablename) => ({ tablename })), ignoreUnknownIds: true } });
  }

  /** Deletes one table, in a call shared with the user's other tables being deleted. */
  async deleteGatewayTable(username: string, tablename: string): Promise<void> {
    await tableDeletes.run(this.batchKey(username), tablename, async (names) => {
      await this.deleteGatewayTables(username, names);
      return names.map(() => undefined);
    });
  }

  /** Calls for one user's tables through the same project and credentials can share a request. */
  private batchKey(username: string): string {
    const { baseUrl, project, tokenUrl, credentials } = this.connection;
    return JSON.stringify([baseUrl, project, tokenUrl, credentials.clientId, username]);
  }

  /** Follows `nextCursor` to the end. */
  private listAll<T>(path: string, query: Query): Promise<T[]> {
    return this.api.listAll<T>(this.path(path), { query: { ...query, limit: 100 } });
  }
}

/** The capability names the docs use, with how token/inspect spells them. */
export interface RequiredCapability {
  /** As in the Cognite docs, e.g. `postgresGateway:WRITE`. */
  readonly name: string;
  readonly acl: string;
  readonly action: string;
}

export const capability = (name: string, acl: string, action: string): RequiredCapability => ({ name, acl, action });

/** Which of `required` the inspected token lacks in `project` (each named once). */
export function missingCapabilities(inspection: TokenInspection, project: string, required: readonly RequiredCapability[]): RequiredCapability[] {
  required = required.filter((need, i) => required.findIndex((other) => other.name === need.name) === i);
  const granted = inspection.capabilities.filter((entry) => {
    const scope = entry.projectScope as { allProjects?: unknown; projects?: string[] } | undefined;
    return !scope || scope.allProjects !== undefined || scope.projects?.includes(project);
  });
  return required.filter((need) =>
    !granted.some((entry) => {
      const acl = entry[need.acl] as { actions?: string[] } | undefined;
      return acl?.actions?.includes(need.action);
    }),
  );
}
export { LostResponseError } from './errors';
