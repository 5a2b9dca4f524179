/**
 * Identity for the Databricks emulator: service principals (OAuth M2M, client id = application id)
 * and users with personal access tokens, both persisted; OAuth access tokens in memory (a restart
 * invalidates them and clients fetch new ones, as after any expiry).
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock';
import type { RequestContext } from '../http';
import type { PostgresServer } from '../postgres';
import { unauthenticated } from './errors';
import { slug } from './wire';

/** Who is calling: a service principal (by application id) or a user (by email). */
export interface Identity {
  readonly kind: 'SERVICE_PRINCIPAL' | 'USER';
  /** The application id or the email: also the identity's Postgres role name. */
  readonly id: string;
}

/** The email of the default PAT's user. */
export const DEFAULT_USER = 'pgstacks.sandbox@example.com';

/** Secrets and tokens look like Databricks' own: `dose…` OAuth secrets, `dapi…` tokens. */
export function newSecret(): string {
  return `dose${randomBytes(20).toString('hex')}`;
}

export function newToken(): string {
  return `dapi${randomBytes(16).toString('hex')}`;
}

/**
 * The role id of the owner role a branch gets for its creator: `sp-<application id>` for a
 * service principal, the email's local part for a user (lowercase, other characters `-`).
 */
export function ownerRoleId(identity: Identity): string {
  if (identity.kind === 'SERVICE_PRINCIPAL') return slug(`sp-${identity.id}`) ?? 'sp-owner';
  const local = identity.id.split('@')[0] ?? identity.id;
  return slug(local) ?? slug(`user-${local}`) ?? 'owner';
}

interface OAuthToken {
  readonly identity: string;
  readonly expiresAt: number;
}

export class DatabricksAuth {
  private readonly tokens = new Map<string, OAuthToken>();
  private readonly signingKey = randomBytes(32);

  constructor(
    private readonly pg: PostgresServer,
    private readonly options: { readonly tokenTtlSeconds: number; readonly clock: Clock },
  ) {}

  /** The default service principal and the default user's PAT, created on first start. */
  async defaults(): Promise<{ clientId: string; clientSecret: string; token: string; user: string }> {
    let sp = (await this.pg.state.query("SELECT id, secret FROM databricks.identities WHERE is_default AND kind = 'SERVICE_PRINCIPAL'")).rows[0];
    if (!sp) {
      sp = { id: randomUUID(), secret: newSecret() };
      await this.addServicePrincipal(sp.id, sp.secret, true);
    }
    let pat = (await this.pg.state.query('SELECT token, identity FROM databricks.tokens WHERE is_default')).rows[0];
    if (!pat) {
      pat = { token: newToken(), identity: DEFAULT_USER };
      await this.addToken(DEFAULT_USER, pat.token, true);
    }
    return { clientId: sp.id, clientSecret: sp.secret, token: pat.token, user: pat.identity };
  }

  async addServicePrincipal(applicationId: string, secret: string, isDefault = false): Promise<void> {
    await this.pg.state.query(
      `INSERT INTO databricks.identities (id, kind, secret, is_default) VALUES ($1, 'SERVICE_PRINCIPAL', $2, $3)
       ON CONFLICT (id) DO UPDATE SET secret = EXCLUDED.secret`,
      [applicationId, secret, isDefault],
    );
  }

  /** Registers a user (if new) and a personal access token for it. */
  async addToken(email: string, token: string, isDefault = false): Promise<void> {
    await this.pg.state.query("INSERT INTO databricks.identities (id, kind) VALUES ($1, 'USER') ON CONFLICT (id) DO NOTHING", [email]);
    await this.pg.state.query('INSERT INTO databricks.tokens (token, identity, is_default) VALUES ($1, $2, $3) ON CONFLICT (token) DO UPDATE SET identity = EXCLUDED.identity', [
      token,
      email,
      isDefault,
    ]);
  }

  /** The service principal, if `secret` is its OAuth secret. */
  async verifyClient(clientId: string, secret: string): Promise<Identity | undefined> {
    const found = await this.pg.state.query("SELECT secret FROM databricks.identities WHERE id = $1 AND kind = 'SERVICE_PRINCIPAL'", [clientId]);
    const stored = found.rows[0]?.secret as string | undefined;
    return stored !== undefined && safeEqual(stored, secret) ? { kind: 'SERVICE_PRINCIPAL', id: clientId } : undefined;
  }

  /** A JWT-shaped access token (signed with the sandbox's own key) for a service principal. */
  issueToken(identity: Identity, scope: string): { token: string; expiresIn: number } {
    const now = this.options.clock.now();
    const ttl = this.options.tokenTtlSeconds;
    for (const [token, t] of this.tokens) if (t.expiresAt <= now) this.tokens.delete(token);
    const iat = Math.floor(now / 1000);
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const unsigned = `${encode({ alg: 'HS256', typ: 'JWT', kid: 'pgstacks-sandbox' })}.${encode({
      iss: 'pgstacks-sandbox',
      sub: identity.id,
      client_id: identity.id,
      scope,
      iat,
      exp: iat + ttl,
      jti: randomBytes(8).toString('hex'),
    })}`;
    const token = `${unsigned}.${createHmac('sha256', this.signingKey).update(unsigned).digest('base64url')}`;
    this.tokens.set(token, { identity: identity.id, expiresAt: now + ttl * 1000 });
    return { token, expiresIn: ttl };
  }

  /** The caller, from its Bearer token (an OAuth access token or a PAT); 401 otherwise. */
  async caller(ctx: RequestContext): Promise<Identity> {
    const header = ctx.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) throw unauthenticated('Credential was not sent or was of an unsupported type for this API.');
    const bearer = match[1]!;
    const oauth = this.tokens.get(bearer);
    if (oauth) {
      if (oauth.expiresAt <= this.options.clock.now()) throw unauthenticated('Invalid Token: the access token has expired; request a new one.');
      return { kind: 'SERVICE_PRINCIPAL', id: oauth.identity };
    }
    const pat = await this.pg.state.query('SELECT identity FROM databricks.tokens WHERE token = $1', [bearer]);
    if (pat.rows[0]) return { kind: 'USER', id: pat.rows[0].identity as string };
    throw unauthenticated('Invalid access token.');
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
