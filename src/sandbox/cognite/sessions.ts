/**
 * The CDF sessions API (`/projects/{p}/sessions`): a session stands for an identity the gateway
 * acts as; creating one yields a single-use, short-lived nonce that gateway user create/update
 * consume. This API is not the pydantic gateway, so bad requests are 400s.
 */
import { randomBytes } from 'node:crypto';
import type { PoolClient } from 'pg';
import { HttpError, type Route } from '../http';
import type { PostgresServer } from '../postgres';
import type { CogniteAuth } from './auth';
import { cdfInput as input, decodeCursor, encodeCursor } from './validate';

const SESSION_TYPES = { clientCredentials: 'CLIENT_CREDENTIALS', tokenExchange: 'TOKEN_EXCHANGE', oneshot: 'ONESHOT_TOKEN_EXCHANGE' } as const;
const STATUSES = ['READY', 'ACTIVE', 'CANCELLED', 'EXPIRED', 'REVOKED', 'ACCESS_LOST'] as const;
const DAY_MS = 24 * 3600 * 1000;

interface SessionRow {
  id: string;
  type: string;
  status: string;
  client_id: string;
  creation_time: string;
  expiration_time: string;
}

function sessionItem(row: SessionRow): Record<string, unknown> {
  return {
    id: Number(row.id),
    type: row.type,
    status: row.status,
    creationTime: Number(row.creation_time),
    expirationTime: Number(row.expiration_time),
    ...(row.type === SESSION_TYPES.clientCredentials ? { clientId: row.client_id } : {}),
  };
}

/**
 * Consumes a nonce for a gateway user create/update, inside the caller's transaction: the session
 * turns ACTIVE and the nonce can never be used again. Returns the session id.
 */
export async function consumeNonce(tx: PoolClient, project: string, nonce: string): Promise<number> {
  const found = await tx.query(
    'SELECT id, project, status, nonce_expires, nonce_used FROM cognite.sessions WHERE nonce = $1 FOR UPDATE',
    [nonce],
  );
  const session = found.rows[0];
  // The real wording is not known; these name the problem plainly.
  if (!session || session.project !== project) throw new HttpError(400, 'Invalid nonce: no session in this project has this nonce');
  if (session.nonce_used) throw new HttpError(400, 'Invalid nonce: the nonce has already been used; create a new session');
  if (Number(session.nonce_expires) <= Date.now()) throw new HttpError(400, 'Invalid nonce: the nonce has expired; create a new session and use its nonce immediately');
  if (session.status !== 'READY') throw new HttpError(400, `Invalid nonce: the session is ${session.status}`);
  await tx.query("UPDATE cognite.sessions SET nonce_used = true, status = 'ACTIVE' WHERE id = $1", [session.id]);
  return Number(session.id);
}

export function sessionRoutes(pg: PostgresServer, auth: CogniteAuth, nonceTtlSeconds: number): Route[] {
  const base = '/api/v1/projects/:project/sessions';

  /** Looks sessions up by id; unknown ids are a 400 with `missing`, as elsewhere in CDF. */
  async function byIds(project: string, body: unknown): Promise<SessionRow[]> {
    const obj = input.body(body);
    input.only(obj, ['items', 'ignoreUnknownIds']);
    const ignore = obj.ignoreUnknownIds === undefined ? false : input.boolean(obj.ignoreUnknownIds, 'ignoreUnknownIds');
    const ids = input.items(obj, 1, 1000).map((item, i) => {
      const o = input.object(item, `items.${i}`);
      input.only(o, ['id']);
      return input.integer(input.required(o, 'id', `items.${i}`), `items.${i}.id`, 1);
    });
    const found = await pg.state.query('SELECT * FROM cognite.sessions WHERE project = $1 AND id = ANY($2::bigint[])', [project, ids]);
    const rows = found.rows as SessionRow[];
    const missing = ids.filter((id) => !rows.some((r) => Number(r.id) === id));
    if (missing.length > 0 && !ignore) throw new HttpError(400, 'Sessions not found', { missing: missing.map((id) => ({ id })) });
    return ids.map((id) => rows.find((r) => Number(r.id) === id)).filter((r): r is SessionRow => r !== undefined);
  }

  return [
    {
      method: 'POST',
      path: base,
      async handler(ctx) {
        const project = ctx.params.project!;
        const { client: caller } = await auth.authorize(ctx, project, 'sessionsAcl', 'CREATE');
        const body = input.body(await ctx.json());
        input.only(body, ['items']);
        const [item] = input.items(body, 1, 1);
        const spec = input.object(item, 'items.0');
        let type: string;
        let clientId: string;
        if ('clientId' in spec || 'clientSecret' in spec) {
          input.only(spec, ['clientId', 'clientSecret']);
          clientId = input.string(input.required(spec, 'clientId', 'items.0'), 'items.0.clientId', 1);
          const secret = input.string(input.required(spec, 'clientSecret', 'items.0'), 'items.0.clientSecret', 1);
          // Unverified whether CDF answers 400 or 401 here; 400 keeps clients from re-authenticating.
          if (!(await auth.verifyClient(clientId, secret))) throw new HttpError(400, `Invalid client credentials: could not authenticate client '${clientId}'`);
          type = SESSION_TYPES.clientCredentials;
        } else if (spec.tokenExchange === true) {
          input.only(spec, ['tokenExchange']);
          [type, clientId] = [SESSION_TYPES.tokenExchange, caller.clientId];
        } else if (spec.oneshotTokenExchange === true) {
          input.only(spec, ['oneshotTokenExchange']);
          [type, clientId] = [SESSION_TYPES.oneshot, caller.clientId];
        } else {
          throw new HttpError(400, 'items.0 must be {clientId, clientSecret}, {tokenExchange: true} or {oneshotTokenExchange: true}');
        }
        const now = Date.now();
        const nonce = randomBytes(24).toString('base64url');
        // One-shot sessions live briefly; the others until revoked (a year stands in for that).
        const expiration = now + (type === SESSION_TYPES.oneshot ? 3600 * 1000 : 365 * DAY_MS);
        const created = await pg.state.query(
          `INSERT INTO cognite.sessions (project, type, status, client_id, nonce, nonce_expires, creation_time, expiration_time)
           VALUES ($1, $2, 'READY', $3, $4, $5, $6, $7) RETURNING *`,
          [project, type, clientId, nonce, now + nonceTtlSeconds * 1000, now, expiration],
        );
        const row = created.rows[0] as SessionRow;
        const { id, type: t, status, clientId: cid } = sessionItem(row);
        return { items: [{ id, type: t, status, nonce, ...(cid ? { clientId: cid } : {}) }] };
      },
    },
    {
      method: 'GET',
      path: base,
      async handler(ctx) {
        const project = ctx.params.project!;
        await auth.authorize(ctx, project, 'sessionsAcl', 'LIST');
        const status = ctx.query.get('status');
        if (status && !(STATUSES as readonly string[]).includes(status.toUpperCase())) input.fail(`status must be one of ${STATUSES.join(', ')}`);
        const limit = ctx.query.has('limit') ? input.integer(ctx.query.get('limit'), 'limit', 1, 1000) : 25;
        const after = decodeCursor(ctx.query.get('cursor'), 400);
        if (after !== undefined && !/^\d+$/.test(after)) input.fail('Invalid cursor');
        const found = await pg.state.query(
          `SELECT * FROM cognite.sessions WHERE project = $1 AND ($2::text IS NULL OR status = upper($2))
             AND id > coalesce($3::bigint, 0) ORDER BY id LIMIT $4`,
          [project, status || null, after ?? null, limit + 1],
        );
        const rows = found.rows as SessionRow[];
        const items = rows.slice(0, limit).map(sessionItem);
        return rows.length > limit ? { items, nextCursor: encodeCursor(rows[limit - 1]!.id) } : { items };
      },
    },
    {
      method: 'POST',
      path: `${base}/byids`,
      async handler(ctx) {
        const project = ctx.params.project!;
        await auth.authorize(ctx, project, 'sessionsAcl', 'LIST');
        return { items: (await byIds(project, await ctx.json())).map(sessionItem) };
      },
    },
    {
      method: 'POST',
      path: `${base}/revoke`,
      async handler(ctx) {
        const project = ctx.params.project!;
        await auth.authorize(ctx, project, 'sessionsAcl', 'DELETE');
        const rows = await byIds(project, await ctx.json());
        // Idempotent: revoking a revoked session changes nothing.
        await pg.state.query("UPDATE cognite.sessions SET status = 'REVOKED' WHERE id = ANY($1::bigint[])", [rows.map((r) => r.id)]);
        const canList = await auth.authorize(ctx, project, 'sessionsAcl', 'LIST').then(() => true, () => false);
        return { items: rows.map((r) => (canList ? sessionItem({ ...r, status: 'REVOKED' }) : { id: Number(r.id) })) };
      },
    },
  ];
}
