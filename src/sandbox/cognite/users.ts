/**
 * Gateway users (`/projects/{p}/postgresgateway`): server-generated usernames and passwords, each a
 * real Postgres login bound to the CDF session whose nonce created it.
 */
import { randomBytes } from 'node:crypto';
import { HttpError, type RequestContext, type Route } from '../http';
import type { PostgresServer } from '../postgres';
import type { CogniteAuth } from './auth';
import { consumeNonce } from './sessions';
import { createGatewayLogin, dropGatewayLogin } from './userdb';
import { decodeCursor, encodeCursor, gatewayInput as input, type JsonObject } from './validate';

export interface UserRow {
  username: string;
  project: string;
  session_id: string;
  created_time: string;
  last_updated_time: string;
}

/** The `FdwUser` form of list, retrieve and update. */
export function userItem(row: UserRow): Record<string, unknown> {
  return {
    username: row.username,
    createdTime: Number(row.created_time),
    lastUpdatedTime: Number(row.last_updated_time),
    sessionId: Number(row.session_id),
  };
}

/** The project's users with these names, in the given order, and the names not found. */
export async function findUsers(pg: PostgresServer, project: string, usernames: readonly string[]): Promise<{ found: UserRow[]; missing: string[] }> {
  const result = await pg.state.query('SELECT * FROM cognite.gateway_users WHERE project = $1 AND username = ANY($2)', [project, usernames]);
  const rows = result.rows as UserRow[];
  const found = usernames.map((u) => rows.find((r) => r.username === u)).filter((r): r is UserRow => r !== undefined);
  return { found, missing: usernames.filter((u) => !rows.some((r) => r.username === u)) };
}

export function unknownUsers(usernames: readonly string[]): HttpError {
  return new HttpError(404, `Users not found: ${usernames.join(', ')}`, { missing: usernames.map((username) => ({ username })) });
}

/** Lowercase, starts with a letter (a plain Postgres identifier), ~119 bits of randomness. */
function newUsername(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return `u${[...randomBytes(23)].map((b) => alphabet[b % 36]).join('')}`;
}

export interface GatewayHost {
  readonly host: string;
  readonly port: number;
}

export function userRoutes(pg: PostgresServer, auth: CogniteAuth, gateway: GatewayHost): Route[] {
  const base = '/api/v1/projects/:project/postgresgateway';

  async function list(ctx: RequestContext, limit: number, cursor: string | undefined) {
    const project = ctx.params.project!;
    const grant = await auth.authorize(ctx, project, 'postgresGatewayAcl', 'READ');
    const after = decodeCursor(cursor, 422);
    const result = await pg.state.query(
      'SELECT * FROM cognite.gateway_users WHERE project = $1 AND username > coalesce($2, \'\') ORDER BY username',
      [project, after ?? null],
    );
    // A usersScope grant sees only its users.
    const rows = (result.rows as UserRow[]).filter((r) => grant.covers({ username: r.username }));
    const items = rows.slice(0, limit).map(userItem);
    return rows.length > limit ? { items, nextCursor: encodeCursor(rows[limit - 1]!.username) } : { items };
  }

  return [
    {
      method: 'POST',
      path: base,
      async handler(ctx) {
        const project = ctx.params.project!;
        const grant = await auth.authorize(ctx, project, 'postgresGatewayAcl', 'WRITE');
        const body = input.body(await ctx.json());
        input.only(body, ['items']);
        const [item] = input.items(body, 1, 1);
        const nonce = credentialsNonce(input.object(item, 'items.0'), 'items.0');
        const username = newUsername();
        if (!grant.covers({ username })) throw new HttpError(403, 'Forbidden: creating users needs postgresGatewayAcl:WRITE with scope all');
        const password = randomBytes(24).toString('base64url');
        const now = Date.now();
        await pg.transaction(async (tx) => {
          const sessionId = await consumeNonce(tx, project, nonce);
          await tx.query(
            'INSERT INTO cognite.gateway_users (username, project, session_id, created_time, last_updated_time) VALUES ($1, $2, $3, $4, $4)',
            [username, project, sessionId, now],
          );
          // Rolled back together with the nonce if the login cannot be made.
          await createGatewayLogin(pg, username, password);
        });
        const row = (await pg.state.query('SELECT * FROM cognite.gateway_users WHERE username = $1', [username])).rows[0] as UserRow;
        // `port` is the sandbox's addition: the real gateway listens on the Postgres default (5432).
        return { items: [{ host: gateway.host, port: gateway.port, password, ...userItem(row) }] };
      },
    },
    {
      method: 'GET',
      path: base,
      async handler(ctx) {
        // Unverified whether CDF rejects limit > 100; the spec says it returns at most 100.
        const limit = ctx.query.has('limit') ? Math.min(input.integer(ctx.query.get('limit'), 'limit', 1), 100) : 100;
        return list(ctx, limit, ctx.query.get('cursor') ?? undefined);
      },
    },
    {
      method: 'POST',
      path: `${base}/list`,
      async handler(ctx) {
        const body = input.body(await ctx.json(), true);
        input.only(body, ['limit', 'cursor']);
        const limit = body.limit === undefined ? 10 : input.integer(body.limit, 'limit', 1, 10);
        const cursor = body.cursor === undefined || body.cursor === null ? undefined : input.string(body.cursor, 'cursor');
        return list(ctx, limit, cursor);
      },
    },
    {
      method: 'POST',
      path: `${base}/byids`,
      async handler(ctx) {
        const project = ctx.params.project!;
        const grant = await auth.authorize(ctx, project, 'postgresGatewayAcl', 'READ');
        const body = input.body(await ctx.json());
        input.only(body, ['items', 'ignoreUnknownIds']);
        const ignore = body.ignoreUnknownIds === undefined ? false : input.boolean(body.ignoreUnknownIds, 'ignoreUnknownIds');
        const usernames = input.items(body, 1, 10).map((item, i) => usernameOf(item, `items.${i}`));
        const { found, missing } = await findUsers(pg, project, usernames);
        const outOfScope = found.filter((r) => !grant.covers({ username: r.username }));
        if (outOfScope.length > 0) throw new HttpError(403, `Forbidden: postgresGatewayAcl:READ does not cover user '${outOfScope[0]!.username}'`);
        if (missing.length > 0 && !ignore) throw unknownUsers(missing);
        return { items: found.map(userItem) };
      },
    },
    {
      method: 'POST',
      path: `${base}/update`,
      async handler(ctx) {
        const project = ctx.params.project!;
        const grant = await auth.authorize(ctx, project, 'postgresGatewayAcl', 'WRITE');
        const body = input.body(await ctx.json());
        input.only(body, ['items']);
        const [item] = input.items(body, 1, 1);
        const spec = input.object(item, 'items.0');
        input.only(spec, ['username', 'update']);
        const username = input.string(input.required(spec, 'username', 'items.0'), 'items.0.username', 1);
        const update = input.object(input.required(spec, 'update', 'items.0'), 'items.0.update');
        input.only(update, ['credentials']);
        const credentials = input.object(input.required(update, 'credentials', 'items.0.update'), 'items.0.update.credentials');
        input.only(credentials, ['set']);
        const set = input.object(input.required(credentials, 'set', 'items.0.update.credentials'), 'items.0.update.credentials.set');
        input.only(set, ['nonce']);
        const nonce = input.string(input.required(set, 'nonce', 'items.0.update.credentials.set'), 'items.0.update.credentials.set.nonce', 1);
        if (!grant.covers({ username })) throw new HttpError(403, `Forbidden: postgresGatewayAcl:WRITE does not cover user '${username}'`);

        const row = await pg.transaction(async (tx) => {
          const found = await tx.query('SELECT * FROM cognite.gateway_users WHERE project = $1 AND username = $2 FOR UPDATE', [project, username]);
          const current = found.rows[0] as UserRow | undefined;
          if (!current) throw unknownUsers([username]);
          const sessionId = await consumeNonce(tx, project, nonce);
          // Strictly later than before, even within the same millisecond.
          const updated = Math.max(Date.now(), Number(current.last_updated_time) + 1);
          const result = await tx.query(
            'UPDATE cognite.gateway_users SET session_id = $2, last_updated_time = $3 WHERE username = $1 RETURNING *',
            [username, sessionId, updated],
          );
          return result.rows[0] as UserRow;
        });
        // Only the bound session changes: same username, same password (never returned again).
        return { items: [userItem(row)] };
      },
    },
    {
      method: 'POST',
      path: `${base}/delete`,
      async handler(ctx) {
        const project = ctx.params.project!;
        const grant = await auth.authorize(ctx, project, 'postgresGatewayAcl', 'WRITE');
        const body = input.body(await ctx.json());
        // The Python SDK sends ignore_unknown_ids here and passes against the live API.
        input.only(body, ['items', 'ignoreUnknownIds', 'ignore_unknown_ids']);
        const flag = body.ignoreUnknownIds ?? body.ignore_unknown_ids;
        const ignore = flag === undefined ? false : input.boolean(flag, 'ignoreUnknownIds');
        const [item] = input.items(body, 1, 1);
        const username = usernameOf(item, 'items.0');
        if (!grant.covers({ username })) throw new HttpError(403, `Forbidden: postgresGatewayAcl:WRITE does not cover user '${username}'`);
        await pg.transaction(async (tx) => {
          const found = await tx.query('DELETE FROM cognite.gateway_users WHERE project = $1 AND username = $2 RETURNING username', [project, username]);
          if (found.rowCount === 0) {
            if (ignore) return;
            throw unknownUsers([username]);
          }
          // The user's tables go with its database; their records with the user's (ON DELETE CASCADE).
          await dropGatewayLogin(pg, username);
        });
        return {};
      },
    },
  ];
}

function credentialsNonce(item: JsonObject, loc: string): string {
  input.only(item, ['credentials']);
  const credentials = input.object(input.required(item, 'credentials', loc), `${loc}.credentials`);
  input.only(credentials, ['nonce']);
  return input.string(input.required(credentials, 'nonce', `${loc}.credentials`), `${loc}.credentials.nonce`, 1);
}

function usernameOf(item: unknown, loc: string): string {
  const obj = input.object(item, loc);
  input.only(obj, ['username']);
  return input.string(input.required(obj, 'username', loc), `${loc}.username`, 1);
}
