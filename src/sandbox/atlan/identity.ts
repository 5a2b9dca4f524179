/**
 * Who calls the Atlan emulator: API keys (Bearer tokens, persisted) and the tenant's fixed
 * directory of workspace roles, groups and users. Every request needs a key (401 otherwise); a
 * key whose only role is `$guest` may read but not change anything (403). whoami reports a key's
 * roles, which decide whether the official client calls `workflows` or `package-workflows`.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { ATLAN_ROLES, type AtlanRoleName } from '../../services/atlan';
import type { Clock } from '../clock';
import type { RequestContext } from '../http';
import type { PostgresServer } from '../postgres';
import { atlanError } from './errors';

/** A stable id for a seeded directory entry, so role and group ids survive restarts. */
function seededId(kind: string, name: string): string {
  const hex = createHash('sha256').update(`pgstacks-atlan:${kind}:${name}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export interface Role {
  readonly id: string;
  readonly name: AtlanRoleName;
  readonly description: string;
}

export interface Group {
  readonly id: string;
  readonly name: string;
  readonly alias: string;
}

export interface User {
  readonly id: string;
  readonly username: string;
  readonly email: string;
  readonly firstName: string;
  readonly lastName: string;
  readonly role: AtlanRoleName;
  readonly groups: readonly string[];
}

const ROLE_DESCRIPTIONS: Record<AtlanRoleName, string> = {
  $admin: 'Admin',
  $member: 'Member',
  $guest: 'Guest',
  '$api-token-default-access': 'Default access for API tokens',
};

export const ROLES: readonly Role[] = ATLAN_ROLES.map((name) => ({ id: seededId('role', name), name, description: ROLE_DESCRIPTIONS[name] }));

/** Internal names (what a connection's `adminGroups` takes) and UI aliases. */
export const GROUPS: readonly Group[] = [
  { name: 'admins', alias: 'Admins' },
  { name: 'data-engineers', alias: 'Data Engineers' },
].map((g) => ({ ...g, id: seededId('group', g.name) }));

export const USERS: readonly User[] = [
  { username: 'admin', firstName: 'Sandbox', lastName: 'Admin', role: '$admin' as const, groups: ['admins'] },
  { username: 'jdoe', firstName: 'Jane', lastName: 'Doe', role: '$member' as const, groups: ['data-engineers'] },
  { username: 'guest', firstName: 'Guest', lastName: 'User', role: '$guest' as const, groups: [] },
].map((u) => ({ ...u, id: seededId('user', u.username), email: `${u.username}@sandbox.atlan.local` }));

export function roleByName(name: string): Role | undefined {
  return ROLES.find((r) => r.name === name);
}

/** An API key as the emulator keeps it. */
export interface ApiKey {
  readonly clientId: string;
  readonly guid: string;
  readonly token: string;
  readonly displayName: string;
  readonly roles: readonly AtlanRoleName[];
  readonly createdAt: number;
}

/** The caller of a request: an API key acting as its service account. */
export interface Caller {
  readonly key: ApiKey;
  /** `service-account-<clientId>`, as Atlan names an API key's user. */
  readonly username: string;
}

export function serviceAccount(clientId: string): string {
  return `service-account-${clientId}`;
}

export class AtlanIdentity {
  constructor(
    private readonly pg: PostgresServer,
    private readonly clock: Clock,
  ) {}

  /** Creates the default key on first start; afterwards returns it as persisted. */
  async defaultKey(): Promise<ApiKey> {
    const found = await this.pg.state.query('SELECT * FROM atlan.api_keys WHERE is_default');
    if (found.rows[0]) return toKey(found.rows[0]);
    return this.createKey({ displayName: 'pgstacks-sandbox', roles: ['$api-token-default-access'] }, true);
  }

  async createKey(options: { displayName: string; roles: readonly AtlanRoleName[] }, isDefault = false): Promise<ApiKey> {
    for (const role of options.roles) if (!roleByName(role)) throw new Error(`unknown Atlan role '${role}'; expected one of ${ATLAN_ROLES.join(', ')}`);
    const clientId = `apikey-${randomUUID()}`;
    const key: ApiKey = {
      clientId,
      guid: randomUUID(),
      token: jwtShaped(clientId, this.clock.now()),
      displayName: options.displayName,
      roles: [...options.roles],
      createdAt: this.clock.now(),
    };
    await this.pg.state.query(
      'INSERT INTO atlan.api_keys (client_id, guid, token, display_name, roles, is_default, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [key.clientId, key.guid, key.token, key.displayName, JSON.stringify(key.roles), isDefault, key.createdAt],
    );
    return key;
  }

  async keys(): Promise<ApiKey[]> {
    return (await this.pg.state.query('SELECT * FROM atlan.api_keys ORDER BY created_at, client_id')).rows.map(toKey);
  }

  /** The caller, from `Authorization: Bearer <API key>`; 401 otherwise. */
  async caller(ctx: RequestContext): Promise<Caller> {
    const header = ctx.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) throw atlanError(401, 'Unauthorized: an API key is required (Authorization: Bearer <API key>)', 401);
    const found = await this.pg.state.query('SELECT * FROM atlan.api_keys WHERE token = $1', [match[1]]);
    if (!found.rows[0]) throw atlanError(401, 'Unauthorized: the API key is not valid', 401);
    const key = toKey(found.rows[0]);
    return { key, username: serviceAccount(key.clientId) };
  }

  /** A route guard: any valid key may read; changing anything needs a role other than `$guest`. */
  guard(access: 'read' | 'write'): (ctx: RequestContext) => Promise<Caller> {
    return async (ctx) => {
      const caller = await this.caller(ctx);
      if (access === 'write' && caller.key.roles.every((role) => role === '$guest')) {
        throw atlanError(403, `Forbidden: the API key '${caller.key.displayName}' has only the $guest role, which may not make changes`, 403);
      }
      return caller;
    };
  }

  /** `GET whoami`: the key's service account and its roles (the client reads `roles[].name`). */
  whoami(caller: Caller): Record<string, unknown> {
    return {
      id: caller.key.guid,
      username: caller.username,
      firstName: caller.key.displayName,
      lastName: '',
      enabled: true,
      createdTimestamp: caller.key.createdAt,
      roles: caller.key.roles.map((name) => {
        const role = roleByName(name)!;
        return { id: role.id, name: role.name, description: role.description, composite: false, clientRole: false, containerId: 'default' };
      }),
      groups: [],
    };
  }
}

/** A token shaped like Atlan's (a JWT); only the emulator's own lookup gives it meaning. */
function jwtShaped(clientId: string, now: number): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode({ azp: clientId, iat: Math.floor(now / 1000), jti: randomUUID() })}.${randomBytes(32).toString('base64url')}`;
}

function toKey(row: Record<string, any>): ApiKey {
  return {
    clientId: row.client_id,
    guid: row.guid,
    token: row.token,
    displayName: row.display_name,
    roles: row.roles,
    createdAt: Number(row.created_at),
  };
}

/** The usernames a connection's `adminUsers` may name: users, and API keys' service accounts. */
export async function knownUsernames(identity: AtlanIdentity): Promise<Set<string>> {
  const keys = await identity.keys();
  return new Set([...USERS.map((u) => u.username), ...keys.map((k) => serviceAccount(k.clientId)), ...keys.map((k) => k.clientId)]);
}
