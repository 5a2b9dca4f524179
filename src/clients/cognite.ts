/**
 * The Cognite Data Fusion client: OAuth client-credentials tokens (cached, refreshed), the
 * sessions, token-inspect and PostgreSQL Gateway endpoints, and CDF's error shape.
 */
import { version } from '../../package.json';
import { RETRY_IDEMPOTENT, RETRY_ONLY_IF_NOT_DONE, send, type RetryPolicy, type RetryTiming } from './http';

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

/** A CDF error: HTTP status, CDF code, message, request id and the identifiers it names. */
export class CogniteApiError extends Error {
  override readonly name = 'CogniteApiError';
  constructor(
    readonly status: number,
    readonly cdfMessage: string,
    readonly requestId: string | undefined,
    readonly missing: ReadonlyArray<Record<string, unknown>> = [],
    readonly duplicated: ReadonlyArray<Record<string, unknown>> = [],
    readonly call = '',
  ) {
    super(
      `${call ? `${call}: ` : ''}CDF answered ${status}: ${cdfMessage}` +
        (missing.length ? ` (missing: ${JSON.stringify(missing)})` : '') +
        (duplicated.length ? ` (duplicated: ${JSON.stringify(duplicated)})` : '') +
        (requestId ? ` [request id ${requestId}]` : ''),
    );
  }
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

/**
 * Tables every gateway user has (PostgreSQL Gateway 2.0); a custom table may not take their names.
 * The list the 2.0 migration notes give; the real set may be larger.
 */
export const GATEWAY_BUILT_IN_TABLES = [
  'assets', 'events', 'extraction_pipeline_runs', 'extraction_pipelines', 'files', 'labels', 'sequences',
  'sequence_rows', 'string_datapoints', 'double_datapoints', 'raw_rows', 'raw_tables',
] as const;

export const GATEWAY_COLUMN_TYPES = [
  'TEXT', 'VARCHAR', 'BOOL', 'BIGINT', 'DOUBLE PRECISION', 'REAL', 'TIMESTAMPTZ', 'JSON',
  'TEXT[]', 'VARCHAR[]', 'BOOL[]', 'BIGINT[]', 'DOUBLE PRECISION[]', 'REAL[]', 'JSON[]', 'BYTEA',
] as const;

export type GatewayColumnType = (typeof GATEWAY_COLUMN_TYPES)[number];

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

interface CachedToken {
  readonly value: string;
  readonly expiresAt: number;
}

/** Tokens are shared by clients of the same identity in one process. */
const tokens = new Map<string, Promise<CachedToken>>();

/** Refresh when less than this is left, as the Cognite SDKs do. */
const REFRESH_MARGIN_MS = 30_000;

export class CogniteClient {
  constructor(
    readonly connection: CogniteConnection,
    private readonly options: CogniteClientOptions = {},
  ) {}

  // ------------------------------------------------------------------ auth

  private get tokenKey(): string {
    const { tokenUrl, credentials, scopes } = this.connection;
    return JSON.stringify([tokenUrl, credentials.clientId, credentials.clientSecret, scopes]);
  }

  private async accessToken(forceRefresh = false): Promise<string> {
    const cached = tokens.get(this.tokenKey);
    if (cached && !forceRefresh) {
      const token = await cached.catch(() => undefined);
      if (token && token.expiresAt - Date.now() > REFRESH_MARGIN_MS) return token.value;
    }
    const fresh = this.fetchToken();
    tokens.set(this.tokenKey, fresh);
    fresh.catch(() => tokens.delete(this.tokenKey));
    return (await fresh).value;
  }

  private async fetchToken(): Promise<CachedToken> {
    const { tokenUrl, credentials, scopes } = this.connection;
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: credentials.clientId,
      client_secret: credentials.clientSecret,
      scope: scopes.join(' '),
    }).toString();
    const response = await send({
      method: 'POST',
      url: tokenUrl,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body,
      retry: RETRY_IDEMPOTENT,
      timing: this.options.timing,
      onRetry: (reason, delay) => this.options.log?.(`token endpoint answered ${reason}; retrying in ${Math.round(delay)}ms`),
      signal: this.options.signal,
      timeoutMs: this.options.timeoutMs,
    });
    const json = parseJson(response.text) as { access_token?: string; expires_in?: number; error?: string; error_description?: string } | undefined;
    if (response.status !== 200 || !json?.access_token) {
      const why = json?.error ? `${json.error}${json.error_description ? `: ${json.error_description}` : ''}` : `HTTP ${response.status}`;
      throw new Error(`could not get a CDF access token for client '${credentials.clientId}' from ${tokenUrl}: ${why}`);
    }
    return { value: json.access_token, expiresAt: Date.now() + (json.expires_in ?? 3600) * 1000 };
  }

  // ------------------------------------------------------------- requests

  /**
   * One CDF call. `path` is below `/api/v1/projects/{project}` unless it starts with `/api/`.
   * A 401 refreshes the token and tries once more (a token may be revoked before it expires).
   */
  async call<T>(method: 'GET' | 'POST', path: string, options: { body?: unknown; query?: Record<string, string | number | boolean | undefined>; retry?: RetryPolicy } = {}): Promise<T> {
    const { baseUrl, project } = this.connection;
    const url = new URL(`${baseUrl.replace(/\/+$/, '')}${path.startsWith('/api/') ? path : `/api/v1/projects/${encodeURIComponent(project)}${path}`}`);
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    const call = `${method} ${url.pathname}`;
    for (let attempt = 1; ; attempt++) {
      const response = await send({
        method,
        url: url.toString(),
        headers: {
          authorization: `Bearer ${await this.accessToken(attempt > 1)}`,
          accept: 'application/json',
          'x-cdp-app': 'pgstacks',
          'x-cdp-sdk': `pgstacks:${version}`,
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        retry: options.retry ?? RETRY_IDEMPOTENT,
        timing: this.options.timing,
        onRetry: (reason, delay, n) => this.options.log?.(`${call} answered ${reason}; retry ${n} in ${(delay / 1000).toFixed(1)}s`),
        signal: this.options.signal,
        timeoutMs: this.options.timeoutMs,
      });
      if (response.status === 401 && attempt === 1) continue;
      const json = parseJson(response.text);
      if (response.status >= 200 && response.status < 300) return (json ?? {}) as T;
      const error = (json as { error?: { message?: string; missing?: []; duplicated?: [] } } | undefined)?.error;
      const requestId = header(response.headers, 'x-request-id');
      throw new CogniteApiError(response.status, error?.message ?? (response.text.slice(0, 200) || 'no message'), requestId, error?.missing, error?.duplicated, call);
    }
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

  async createGatewayTables(username: string, tables: readonly GatewayTableWrite[]): Promise<GatewayTable[]> {
    const { items } = await this.call<{ items: GatewayTable[] }>('POST', this.tablesPath(username), { body: { items: tables } });
    return items;
  }

  async retrieveGatewayTable(username: string, tablename: string): Promise<GatewayTable | undefined> {
    const { items } = await this.call<{ items: GatewayTable[] }>('POST', this.tablesPath(username, '/byids'), {
      body: { items: [{ tablename }], ignoreUnknownIds: true },
    });
    return items[0];
  }

  listGatewayTables(username: string): Promise<GatewayTable[]> {
    return this.listAll<GatewayTable>(this.tablesPath(username), { includeBuiltIns: false });
  }

  /** Idempotent: unknown table names are ignored. */
  async deleteGatewayTables(username: string, tablenames: readonly string[]): Promise<void> {
    await this.call('POST', this.tablesPath(username, '/delete'), { body: { items: tablenames.map((tablename) => ({ tablename })), ignoreUnknownIds: true } });
  }

  /** Follows `nextCursor` to the end. */
  private async listAll<T>(path: string, query: Record<string, string | number | boolean>): Promise<T[]> {
    const all: T[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.call<{ items: T[]; nextCursor?: string }>('GET', path, { query: { ...query, limit: 100, cursor } });
      all.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return all;
  }
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
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
