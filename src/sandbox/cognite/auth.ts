/**
 * Identity for the Cognite emulator: OAuth clients (persisted), an Entra-style client-credentials
 * token endpoint, Bearer checks, `token/inspect`, and capability checks in CDF's ACL model
 * (`<name>Acl: {actions, scope}` plus `projectScope`).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { HttpError, type RequestContext, type Route, type Service } from '../http';
import type { PostgresServer } from '../postgres';

/** A capability in the token/inspect JSON form. */
export type CogniteCapability = Record<string, unknown>;

export interface CogniteClient {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly capabilities: CogniteCapability[];
}

export const DEFAULT_CLIENT_ID = 'pgstacks-sandbox';

const all = { all: {} };
const allProjects = { allProjects: {} };
/** Everything the gateway needs, in every project. */
export const DEFAULT_CAPABILITIES: CogniteCapability[] = [
  { postgresGatewayAcl: { actions: ['READ', 'WRITE'], scope: all }, projectScope: allProjects },
  { projectsAcl: { actions: ['LIST'], scope: all }, projectScope: allProjects },
  { groupsAcl: { actions: ['LIST'], scope: all }, projectScope: allProjects },
  { sessionsAcl: { actions: ['CREATE', 'LIST', 'DELETE'], scope: all }, projectScope: allProjects },
  { rawAcl: { actions: ['READ', 'WRITE', 'LIST'], scope: all }, projectScope: allProjects },
];

/** What a capability check grants inside the project: `covers` tells whether a resource is in scope. */
export interface Grant {
  readonly client: CogniteClient;
  covers(resource: ScopedResource): boolean;
}
export type ScopedResource = { readonly username: string } | { readonly db: string; readonly table?: string };

interface Token {
  readonly clientId: string;
  readonly expiresAt: number;
}

export class CogniteAuth {
  /** Tokens live in memory: a restart invalidates them and clients authenticate again. */
  private readonly tokens = new Map<string, Token>();
  private readonly knownProjects = new Set<string>();
  private readonly signingKey = randomBytes(32);

  constructor(
    private readonly pg: PostgresServer,
    private readonly tokenTtlSeconds: number,
  ) {}

  /** Creates the default client on first start; afterwards returns it as persisted. */
  async defaultClient(): Promise<CogniteClient> {
    const found = await this.pg.state.query('SELECT client_id, client_secret, capabilities FROM cognite.clients WHERE is_default');
    if (found.rows[0]) return toClient(found.rows[0]);
    const client = { clientId: DEFAULT_CLIENT_ID, clientSecret: randomBytes(24).toString('base64url'), capabilities: DEFAULT_CAPABILITIES };
    await this.saveClient(client, true);
    return client;
  }

  async saveClient(client: CogniteClient, isDefault = false): Promise<void> {
    await this.pg.state.query(
      `INSERT INTO cognite.clients (client_id, client_secret, capabilities, is_default, group_id)
       VALUES ($1, $2, $3, $4, (SELECT coalesce(max(group_id), 0) + 1 FROM cognite.clients))
       ON CONFLICT (client_id) DO UPDATE SET client_secret = EXCLUDED.client_secret, capabilities = EXCLUDED.capabilities`,
      [client.clientId, client.clientSecret, JSON.stringify(client.capabilities), isDefault],
    );
  }

  async client(clientId: string): Promise<(CogniteClient & { groupId: number }) | undefined> {
    const found = await this.pg.state.query('SELECT client_id, client_secret, capabilities, group_id FROM cognite.clients WHERE client_id = $1', [clientId]);
    const row = found.rows[0];
    return row ? { ...toClient(row), groupId: Number(row.group_id) } : undefined;
  }

  /** The client, if `secret` is its secret. */
  async verifyClient(clientId: string, secret: string): Promise<CogniteClient | undefined> {
    const client = await this.client(clientId);
    return client && safeEqual(client.clientSecret, secret) ? client : undefined;
  }

  /** Issues a JWT-shaped access token (claims as Entra's; the signature is only the sandbox's own). */
  issueToken(clientId: string, scope: string): { token: string; expiresIn: number } {
    const now = Date.now();
    for (const [token, t] of this.tokens) if (t.expiresAt <= now) this.tokens.delete(token);
    const iat = Math.floor(now / 1000);
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({
      aud: scope.replace(/\/\.default$/, '') || 'pgstacks-sandbox',
      iss: 'pgstacks-sandbox',
      sub: clientId,
      appid: clientId,
      iat,
      exp: iat + this.tokenTtlSeconds,
      jti: randomBytes(8).toString('hex'),
    })}`;
    const token = `${unsigned}.${createHmac('sha256', this.signingKey).update(unsigned).digest('base64url')}`;
    this.tokens.set(token, { clientId, expiresAt: now + this.tokenTtlSeconds * 1000 });
    return { token, expiresIn: this.tokenTtlSeconds };
  }

  /** The caller's client, from its Bearer token; 401 otherwise. */
  async caller(ctx: RequestContext): Promise<CogniteClient & { groupId: number }> {
    const header = ctx.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) throw new HttpError(401, 'Unauthorized: missing Authorization header with a Bearer token');
    const token = this.tokens.get(match[1]!);
    if (!token) throw new HttpError(401, 'Unauthorized: the Bearer token is not valid');
    if (token.expiresAt <= Date.now()) throw new HttpError(401, 'Unauthorized: the Bearer token has expired');
    const client = await this.client(token.clientId);
    if (!client) throw new HttpError(401, 'Unauthorized: the token\'s client no longer exists');
    return client;
  }

  /**
   * Checks that the caller holds `acl:action` in `project` and returns what it covers there;
   * a 403 naming the capability otherwise. The project comes into existence on first use.
   */
  async authorize(ctx: RequestContext, project: string, acl: string, actions: string | readonly string[]): Promise<Grant> {
    const client = await this.caller(ctx);
    const wanted = typeof actions === 'string' ? [actions] : actions;
    const scopes: Record<string, unknown>[] = [];
    for (const capability of client.capabilities) {
      const entry = capability[acl] as { actions?: unknown; scope?: unknown } | undefined;
      if (!entry || !Array.isArray(entry.actions) || !wanted.some((a) => (entry.actions as unknown[]).includes(a))) continue;
      if (!coversProject(capability.projectScope, project)) continue;
      scopes.push(isRecord(entry.scope) ? entry.scope : {});
    }
    if (scopes.length === 0) {
      throw new HttpError(
        403,
        `Forbidden: missing capability ${wanted.map((a) => `${acl}:${a}`).join(' or ')} (projectScope covering project '${project}') for client '${client.clientId}'`,
      );
    }
    await this.noteProject(project);
    return { client, covers: (resource) => scopes.some((scope) => scopeCovers(scope, resource)) };
  }

  /** Like `authorize`, and also requires the grant to cover `resource`. */
  async authorizeFor(ctx: RequestContext, project: string, acl: string, actions: string | readonly string[], resource: ScopedResource): Promise<Grant> {
    const grant = await this.authorize(ctx, project, acl, actions);
    if (!grant.covers(resource)) {
      const what = 'username' in resource ? `user '${resource.username}'` : `RAW ${resource.db}${resource.table ? `/${resource.table}` : ''}`;
      const action = typeof actions === 'string' ? actions : actions.join(' or ');
      throw new HttpError(403, `Forbidden: the ${acl}:${action} capability does not cover ${what}`);
    }
    return grant;
  }

  async noteProject(project: string): Promise<void> {
    if (this.knownProjects.has(project)) return;
    await this.pg.state.query('INSERT INTO cognite.projects (name, created_time) VALUES ($1, $2) ON CONFLICT DO NOTHING', [project, Date.now()]);
    this.knownProjects.add(project);
  }

  /** GET /api/v1/token/inspect. */
  async inspect(ctx: RequestContext): Promise<unknown> {
    const client = await this.caller(ctx);
    const known = (await this.pg.state.query('SELECT name FROM cognite.projects ORDER BY name')).rows.map((r) => r.name as string);
    const named = client.capabilities.flatMap((c) => {
      const scope = c.projectScope as { projects?: unknown } | undefined;
      return Array.isArray(scope?.projects) ? scope.projects.filter((p): p is string => typeof p === 'string') : [];
    });
    const projects = [...new Set([...known, ...named])]
      .filter((project) => client.capabilities.some((c) => coversProject(c.projectScope, project)))
      .sort();
    return {
      subject: client.clientId,
      projects: projects.map((projectUrlName) => ({ projectUrlName, groups: [client.groupId] })),
      capabilities: client.capabilities,
    };
  }
}

/**
 * The Entra-style token endpoint (`/login/{tenant}/oauth2/v2.0/token`), with OAuth's error shape.
 * The client secret may come in the form or as HTTP Basic auth.
 */
export function loginService(auth: CogniteAuth): Service {
  const token: Route = {
    method: 'POST',
    path: '/:tenant/oauth2/v2.0/token',
    async handler(ctx) {
      const form = await ctx.form();
      const grantType = form.get('grant_type');
      if (!grantType) throw oauthError(400, 'invalid_request', "The request body must contain the parameter 'grant_type'.");
      if (grantType !== 'client_credentials') throw oauthError(400, 'unsupported_grant_type', `The grant type '${grantType}' is not supported.`);
      let clientId = form.get('client_id') ?? undefined;
      let secret = form.get('client_secret') ?? undefined;
      const basic = /^Basic\s+(\S+)$/i.exec(String(ctx.headers.authorization ?? ''));
      if (basic) {
        const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon > 0) {
          clientId = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
          secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
        }
      }
      if (!clientId) throw oauthError(400, 'invalid_request', "The request body must contain the parameter 'client_id'.");
      if (!secret) throw oauthError(401, 'invalid_client', "The request body must contain the parameter 'client_secret' or HTTP Basic credentials.");
      const client = await auth.verifyClient(clientId, secret);
      if (!client) throw oauthError(401, 'invalid_client', `Invalid client secret provided for client '${clientId}'.`);
      const issued = auth.issueToken(client.clientId, form.get('scope') ?? '');
      return { token_type: 'Bearer', expires_in: issued.expiresIn, ext_expires_in: issued.expiresIn, access_token: issued.token };
    },
  };
  return {
    prefix: '/login',
    routes: [token],
    errorBody: (error) => ({ error: (error.details.error as string | undefined) ?? errorCode(error.status), error_description: error.message }),
  };
}

function oauthError(status: number, error: string, description: string): HttpError {
  return new HttpError(status, description, { error });
}

function errorCode(status: number): string {
  if (status === 401) return 'invalid_client';
  if (status === 429) return 'temporarily_unavailable';
  return status >= 500 ? 'server_error' : 'invalid_request';
}

function coversProject(projectScope: unknown, project: string): boolean {
  if (!isRecord(projectScope)) return false;
  if ('allProjects' in projectScope) return true;
  return Array.isArray(projectScope.projects) && projectScope.projects.includes(project);
}

/** Unknown scope kinds cover nothing; `all` covers everything. */
function scopeCovers(scope: Record<string, unknown>, resource: ScopedResource): boolean {
  if ('all' in scope) return true;
  const users = (scope.usersScope as { usernames?: unknown } | undefined)?.usernames;
  if ('username' in resource) return Array.isArray(users) && users.includes(resource.username);
  const dbs = (scope.tableScope as { dbsToTables?: unknown } | undefined)?.dbsToTables;
  if (!isRecord(dbs) || !(resource.db in dbs)) return false;
  if (resource.table === undefined) return true;
  // Both forms occur: {"db": ["t1"]} and {"db": {"tables": ["t1"]}}; no tables listed = all of them.
  const entry = dbs[resource.db];
  const tables = Array.isArray(entry) ? entry : isRecord(entry) && Array.isArray(entry.tables) ? entry.tables : [];
  return tables.length === 0 || tables.includes(resource.table);
}

function toClient(row: { client_id: string; client_secret: string; capabilities: CogniteCapability[] }): CogniteClient {
  return { clientId: row.client_id, clientSecret: row.client_secret, capabilities: row.capabilities };
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
