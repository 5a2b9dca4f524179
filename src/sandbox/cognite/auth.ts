/**
 * Identity for the Cognite emulator: OAuth clients (persisted), access tokens, Bearer checks,
 * `token/inspect`, and capability checks in CDF's ACL model (`<name>Acl: {actions, scope}` plus
 * `projectScope`) over the sandbox's fixed list of projects.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock';
import { HttpError } from '../errors';
import type { RequestContext } from '../http';
import type { PostgresServer } from '../postgres';
import { noSuchProject } from './projects';

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
  /** The project of the request, one of the sandbox's. */
  readonly project: string;
  covers(resource: ScopedResource): boolean;
}
export type ScopedResource = { readonly username: string } | { readonly db: string; readonly table?: string };

interface Token {
  readonly clientId: string;
  readonly expiresAt: number;
}

export interface CogniteAuthOptions {
  readonly tokenTtlSeconds: number;
  readonly clock: Clock;
  /** The sandbox's projects; any other is refused. */
  readonly projects: readonly string[];
}

export class CogniteAuth {
  /** Tokens live in memory: a restart invalidates them and clients authenticate again. */
  private readonly tokens = new Map<string, Token>();
  /**
   * Clients as read from the state database, kept: every request names its caller's, and the
   * sandbox is the only writer of the table (saveClient drops the entry and counts the change
   * once it is written).
   */
  private readonly clients = new Map<string, CogniteClient & { groupId: number }>();
  private clientsChanged = 0;
  private readonly signingKey = randomBytes(32);

  constructor(
    private readonly pg: PostgresServer,
    private readonly options: CogniteAuthOptions,
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
    // Once written: a read that began before now may have seen the old row (client() keeps no such read).
    this.clientsChanged++;
    this.clients.delete(client.clientId);
  }

  async client(clientId: string): Promise<(CogniteClient & { groupId: number }) | undefined> {
    const known = this.clients.get(clientId);
    if (known) return known;
    const changes = this.clientsChanged;
    const found = await this.pg.state.query('SELECT client_id, client_secret, capabilities, group_id FROM cognite.clients WHERE client_id = $1', [clientId]);
    const row = found.rows[0];
    if (!row) return undefined;
    const client = { ...toClient(row), groupId: Number(row.group_id) };
    // Not if a save finished meanwhile: this read may predate it.
    if (changes === this.clientsChanged) this.clients.set(clientId, client);
    return client;
  }

  /** The client, if `secret` is its secret. */
  async verifyClient(clientId: string, secret: string): Promise<CogniteClient | undefined> {
    const client = await this.client(clientId);
    return client && safeEqual(client.clientSecret, secret) ? client : undefined;
  }

  /** Issues a JWT-shaped access token (claims as Entra's; the signature is only the sandbox's own). */
  issueToken(clientId: string, scope: string): { token: string; expiresIn: number } {
    const now = this.options.clock.now();
    const ttl = this.options.tokenTtlSeconds;
    for (const [token, t] of this.tokens) if (t.expiresAt <= now) this.tokens.delete(token);
    const iat = Math.floor(now / 1000);
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({
      aud: scope.replace(/\/\.default$/, '') || 'pgstacks-sandbox',
      iss: 'pgstacks-sandbox',
      sub: clientId,
      appid: clientId,
      iat,
      exp: iat + ttl,
      jti: randomBytes(8).toString('hex'),
    })}`;
    const token = `${unsigned}.${createHmac('sha256', this.signingKey).update(unsigned).digest('base64url')}`;
    this.tokens.set(token, { clientId, expiresAt: now + ttl * 1000 });
    return { token, expiresIn: ttl };
  }

  /** The caller's client, from its Bearer token; 401 otherwise. */
  async caller(ctx: RequestContext): Promise<CogniteClient & { groupId: number }> {
    const header = ctx.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) throw new HttpError(401, 'Unauthorized: missing Authorization header with a Bearer token');
    const token = this.tokens.get(match[1]!);
    if (!token) throw new HttpError(401, 'Unauthorized: the Bearer token is not valid');
    if (token.expiresAt <= this.options.clock.now()) throw new HttpError(401, 'Unauthorized: the Bearer token has expired');
    const client = await this.client(token.clientId);
    if (!client) throw new HttpError(401, 'Unauthorized: the token\'s client no longer exists');
    return client;
  }

  /**
   * Checks that `project` is one of the sandbox's and that the caller holds `acl:action` there;
   * returns what the grant covers. A 403 otherwise (naming the capability, for a known project).
   */
  async authorize(ctx: RequestContext, project: string, acl: string, actions: string | readonly string[]): Promise<Grant> {
    const client = await this.caller(ctx);
    if (!this.options.projects.includes(project)) throw noSuchProject();
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
    return { client, project, covers: (resource) => scopes.some((scope) => scopeCovers(scope, resource)) };
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

  /**
   * A route guard: the caller must hold `acl:action` in the project of the path (and over the
   * resource `scoped` names, if given). Runs before the request's input is validated.
   */
  guard(acl: string, actions: string | readonly string[], scoped?: (params: Readonly<Record<string, string>>) => ScopedResource): (ctx: RequestContext) => Promise<Grant> {
    return (ctx) => {
      const project = ctx.params.project!;
      return scoped ? this.authorizeFor(ctx, project, acl, actions, scoped(ctx.params)) : this.authorize(ctx, project, acl, actions);
    };
  }

  /** GET /api/v1/token/inspect: every sandbox project the client's capabilities reach. */
  async inspect(ctx: RequestContext): Promise<unknown> {
    const client = await this.caller(ctx);
    const projects = this.options.projects.filter((project) => client.capabilities.some((c) => coversProject(c.projectScope, project)));
    return {
      subject: client.clientId,
      projects: projects.map((projectUrlName) => ({ projectUrlName, groups: [client.groupId] })),
      capabilities: client.capabilities,
    };
  }
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
  if (!isRecord(dbs) || !Object.prototype.hasOwnProperty.call(dbs, resource.db)) return false;
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
