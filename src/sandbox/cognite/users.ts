/**
 * Gateway users (`/projects/{p}/postgresgateway`): server-generated usernames and passwords, each a
 * real Postgres login bound to the CDF session whose nonce created it.
 */
import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import type { Clock } from '../clock';
import { HttpError } from '../errors';
import type { Route } from '../http';
import type { PostgresServer } from '../postgres';
import type { CogniteAuth, Grant } from './auth';
import { gatewayRoute } from './errors';
import { pageOf } from './paging';
import { dropRawViews } from './raw-store';
import { cursor, integer, items, text } from './schemas';
import { consumeNonce } from './sessions';
import { createGatewayLogin, dropGatewayLogin, newUsername, type RawBridge, type SpareDatabases } from './userdb';

export interface UserRow {
  username: string;
  project: string;
  session_id: string;
  created_time: string;
  last_updated_time: string;
}

const nonce = text(1);
const username = text(1);
const byUsername = z.strictObject({ username });

const createBody = z.strictObject({ items: items(z.strictObject({ credentials: z.strictObject({ nonce }) }), 1, 1) });
const listQuery = z.object({
  // Unverified whether CDF rejects limit > 100; the spec says it returns at most 100.
  limit: integer(1).transform((n) => Math.min(n, 100)).default(100),
  cursor,
});
const listBody = z.strictObject({ limit: integer(1, 10).default(10), cursor }).default({ limit: 10, cursor: undefined });
const byIdsBody = z.strictObject({ items: items(byUsername, 1, 10), ignoreUnknownIds: z.boolean().default(false) });
const updateBody = z.strictObject({
  items: items(z.strictObject({ username, update: z.strictObject({ credentials: z.strictObject({ set: z.strictObject({ nonce }) }) }) }), 1, 1),
});
const deleteBody = z.strictObject({
  items: items(byUsername, 1, 1),
  ignoreUnknownIds: z.boolean().optional(),
  // The Python SDK sends this spelling here and passes against the live API.
  ignore_unknown_ids: z.boolean().optional(),
});

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

export interface UserRouteOptions {
  /** Where gateway users log in. */
  readonly host: string;
  readonly port: number;
  readonly clock: Clock;
  readonly bridge: RawBridge;
  /** Gateway databases made ahead of time. */
  readonly spares?: SpareDatabases;
}

export function userRoutes(pg: PostgresServer, auth: CogniteAuth, options: UserRouteOptions): Route[] {
  const base = '/api/v1/projects/:project/postgresgateway';
  const read = auth.guard('postgresGatewayAcl', 'READ');
  const write = auth.guard('postgresGatewayAcl', 'WRITE');

  async function list({ project, covers }: Grant, limit: number, after: string | undefined) {
    const result = await pg.state.query('SELECT * FROM cognite.gateway_users WHERE project = $1 AND username > coalesce($2, \'\') ORDER BY username', [project, after ?? null]);
    // A usersScope grant sees only its users.
    const rows = (result.rows as UserRow[]).filter((r) => covers({ username: r.username }));
    const page = pageOf(rows, (r) => r.username, limit);
    return { ...page, items: page.items.map(userItem) };
  }

  function requireCovered(grant: Grant, action: string, name: string): void {
    if (!grant.covers({ username: name })) throw new HttpError(403, `Forbidden: postgresGatewayAcl:${action} does not cover user '${name}'`);
  }

  return [
    gatewayRoute({
      method: 'POST',
      path: base,
      guard: write,
      body: createBody,
      async handler(_ctx, { guard: grant, body }) {
        const { project } = grant;
        // Only a grant with scope `all` covers a username nobody has seen.
        if (!grant.covers({ username: newUsername() })) throw new HttpError(403, 'Forbidden: creating users needs postgresGatewayAcl:WRITE with scope all');
        const password = randomBytes(24).toString('base64url');
        const now = options.clock.now();
        const row = await pg.transaction(async (tx) => {
          const sessionId = await consumeNonce(tx, options.clock, project, body.items[0]!.credentials.nonce);
          // The nonce is used only if the login is made (the transaction rolls back otherwise).
          const name = await createGatewayLogin(pg, password, options.bridge, options.spares);
          try {
            const inserted = await tx.query(
              'INSERT INTO cognite.gateway_users (username, project, session_id, created_time, last_updated_time) VALUES ($1, $2, $3, $4, $4) RETURNING *',
              [name, project, sessionId, now],
            );
            return inserted.rows[0] as UserRow;
          } catch (error) {
            await dropGatewayLogin(pg, name).catch(() => undefined);
            throw error;
          }
        });
        // `port` is the sandbox's addition: the real gateway listens on the Postgres default (5432).
        return { items: [{ host: options.host, port: options.port, password, ...userItem(row) }] };
      },
    }),
    gatewayRoute({
      method: 'GET',
      path: base,
      guard: read,
      query: listQuery,
      handler: (_ctx, { guard, query }) => list(guard, query.limit, query.cursor),
    }),
    gatewayRoute({
      method: 'POST',
      path: `${base}/list`,
      guard: read,
      body: listBody,
      handler: (_ctx, { guard, body }) => list(guard, body.limit, body.cursor),
    }),
    gatewayRoute({
      method: 'POST',
      path: `${base}/byids`,
      guard: read,
      body: byIdsBody,
      async handler(_ctx, { guard: grant, body }) {
        const { found, missing } = await findUsers(pg, grant.project, body.items.map((item) => item.username));
        for (const row of found) requireCovered(grant, 'READ', row.username);
        if (missing.length > 0 && !body.ignoreUnknownIds) throw unknownUsers(missing);
        return { items: found.map(userItem) };
      },
    }),
    gatewayRoute({
      method: 'POST',
      path: `${base}/update`,
      guard: write,
      body: updateBody,
      async handler(_ctx, { guard: grant, body }) {
        const { username: name, update } = body.items[0]!;
        requireCovered(grant, 'WRITE', name);
        const row = await pg.transaction(async (tx) => {
          const found = await tx.query('SELECT * FROM cognite.gateway_users WHERE project = $1 AND username = $2 FOR UPDATE', [grant.project, name]);
          const current = found.rows[0] as UserRow | undefined;
          if (!current) throw unknownUsers([name]);
          const sessionId = await consumeNonce(tx, options.clock, grant.project, update.credentials.set.nonce);
          // Strictly later than before, even within the same millisecond.
          const updated = Math.max(options.clock.now(), Number(current.last_updated_time) + 1);
          const result = await tx.query('UPDATE cognite.gateway_users SET session_id = $2, last_updated_time = $3 WHERE username = $1 RETURNING *', [name, sessionId, updated]);
          return result.rows[0] as UserRow;
        });
        // Only the bound session changes: same username, same password (never returned again).
        return { items: [userItem(row)] };
      },
    }),
    gatewayRoute({
      method: 'POST',
      path: `${base}/delete`,
      guard: write,
      body: deleteBody,
      async handler(_ctx, { guard: grant, body }) {
        const ignore = body.ignoreUnknownIds ?? body.ignore_unknown_ids ?? false;
        const name = body.items[0]!.username;
        requireCovered(grant, 'WRITE', name);
        await pg.transaction(async (tx) => {
          const tables = await tx.query("SELECT tablename FROM cognite.gateway_tables WHERE username = $1 AND type = 'raw_rows'", [name]);
          const found = await tx.query('DELETE FROM cognite.gateway_users WHERE project = $1 AND username = $2 RETURNING username', [grant.project, name]);
          if (found.rowCount === 0) {
            if (ignore) return;
            throw unknownUsers([name]);
          }
          // The user's tables go with its database, their records with the user's (ON DELETE
          // CASCADE) and their RAW views here; the rows they wrote stay in RAW.
          await dropRawViews(tx, name, (tables.rows as { tablename: string }[]).map((t) => t.tablename));
          await dropGatewayLogin(pg, name);
        });
        return {};
      },
    }),
  ];
}
