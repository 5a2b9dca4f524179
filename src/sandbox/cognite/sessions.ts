/**
 * The CDF sessions API (`/projects/{p}/sessions`): a session stands for an identity the gateway
 * acts as; creating one yields a single-use, short-lived nonce that gateway user create/update
 * consume. This API is not the pydantic gateway: bad requests are 400s (the service's default).
 */
import { randomBytes } from 'node:crypto';
import type { PoolClient } from 'pg';
import * as z from 'zod';
import type { Clock } from '../clock';
import { HttpError } from '../errors';
import { route, type Route } from '../http';
import type { PostgresServer } from '../postgres';
import type { CogniteAuth } from './auth';
import { pageOf } from './paging';
import { cursor, integer, items, nothing, text, variant } from './schemas';

const SESSION_TYPES = { clientCredentials: 'CLIENT_CREDENTIALS', tokenExchange: 'TOKEN_EXCHANGE', oneshot: 'ONESHOT_TOKEN_EXCHANGE' } as const;
const STATUSES = ['READY', 'ACTIVE', 'CANCELLED', 'EXPIRED', 'REVOKED', 'ACCESS_LOST'] as const;
const DAY_MS = 24 * 3600 * 1000;

const clientCredentials = z.strictObject({ clientId: text(1), clientSecret: text(1) });
const tokenExchange = z.strictObject({ tokenExchange: z.literal(true) });
const oneshotTokenExchange = z.strictObject({ oneshotTokenExchange: z.literal(true) });

const createBody = z.strictObject({
  items: items(
    variant((item) => {
      if ('clientId' in item || 'clientSecret' in item) return clientCredentials;
      if (item.tokenExchange === true) return tokenExchange;
      if (item.oneshotTokenExchange === true) return oneshotTokenExchange;
      return nothing('Input should be {clientId, clientSecret}, {tokenExchange: true} or {oneshotTokenExchange: true}');
    }),
    1,
    1,
  ),
});

const idsBody = z.strictObject({
  items: items(z.strictObject({ id: integer(1) }), 1, 1000),
  ignoreUnknownIds: z.boolean().default(false),
});

const listQuery = z.object({
  status: z
    .string()
    .optional()
    .transform((s) => (s ? s.toUpperCase() : undefined))
    .refine((s) => s === undefined || (STATUSES as readonly string[]).includes(s), `Input should be one of ${STATUSES.join(', ')}`),
  limit: integer(1, 1000).default(25),
  cursor: cursor.refine((after) => after === undefined || /^\d{1,18}$/.test(after), 'Invalid cursor'),
});

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
export async function consumeNonce(tx: PoolClient, clock: Clock, project: string, nonce: string): Promise<number> {
  // The usual case in one statement; the reason a nonce is refused is looked up only then.
  const consumed = await tx.query(
    `UPDATE cognite.sessions SET nonce_used = true, status = 'ACTIVE'
      WHERE nonce = $1 AND project = $2 AND NOT nonce_used AND nonce_expires > $3 AND status = 'READY' RETURNING id`,
    [nonce, project, clock.now()],
  );
  if (consumed.rowCount === 1) return Number(consumed.rows[0].id);
  const found = await tx.query(
    'SELECT id, project, status, nonce_expires, nonce_used FROM cognite.sessions WHERE nonce = $1 FOR UPDATE',
    [nonce],
  );
  const session = found.rows[0];
  // The real wording is not known; these name the problem plainly.
  if (!session || session.project !== project) throw new HttpError(400, 'Invalid nonce: no session in this project has this nonce');
  if (session.nonce_used) throw new HttpError(400, 'Invalid nonce: the nonce has already been used; create a new session');
  if (Number(session.nonce_expires) <= clock.now()) throw new HttpError(400, 'Invalid nonce: the nonce has expired; create a new session and use its nonce immediately');
  throw new HttpError(400, `Invalid nonce: the session is ${session.status}`);
}

export function sessionRoutes(pg: PostgresServer, auth: CogniteAuth, options: { nonceTtlSeconds: number; clock: Clock }): Route[] {
  const base = '/api/v1/projects/:project/sessions';

  /** Looks sessions up by id; unknown ids are a 400 with `missing`, as elsewhere in CDF. */
  async function byIds(project: string, body: z.output<typeof idsBody>): Promise<SessionRow[]> {
    const ids = body.items.map((item) => item.id);
    const found = await pg.state.query('SELECT * FROM cognite.sessions WHERE project = $1 AND id = ANY($2::bigint[])', [project, ids]);
    const rows = found.rows as SessionRow[];
    const missing = ids.filter((id) => !rows.some((r) => Number(r.id) === id));
    if (missing.length > 0 && !body.ignoreUnknownIds) throw new HttpError(400, 'Sessions not found', { missing: missing.map((id) => ({ id })) });
    return ids.map((id) => rows.find((r) => Number(r.id) === id)).filter((r): r is SessionRow => r !== undefined);
  }

  return [
    route({
      method: 'POST',
      path: base,
      guard: auth.guard('sessionsAcl', 'CREATE'),
      body: createBody,
      async handler(_ctx, { guard: { project, client: caller }, body }) {
        const spec = body.items[0]!;
        let type: string;
        let clientId: string;
        if ('clientId' in spec) {
          // Unverified whether CDF answers 400 or 401 here; 400 keeps clients from re-authenticating.
          if (!(await auth.verifyClient(spec.clientId, spec.clientSecret))) throw new HttpError(400, `Invalid client credentials: could not authenticate client '${spec.clientId}'`);
          [type, clientId] = [SESSION_TYPES.clientCredentials, spec.clientId];
        } else {
          [type, clientId] = ['tokenExchange' in spec ? SESSION_TYPES.tokenExchange : SESSION_TYPES.oneshot, caller.clientId];
        }
        const now = options.clock.now();
        const nonce = randomBytes(24).toString('base64url');
        // One-shot sessions live briefly; the others until revoked (a year stands in for that).
        const expiration = now + (type === SESSION_TYPES.oneshot ? 3600 * 1000 : 365 * DAY_MS);
        const created = await pg.state.query(
          `INSERT INTO cognite.sessions (project, type, status, client_id, nonce, nonce_expires, creation_time, expiration_time)
           VALUES ($1, $2, 'READY', $3, $4, $5, $6, $7) RETURNING *`,
          [project, type, clientId, nonce, now + options.nonceTtlSeconds * 1000, now, expiration],
        );
        const { id, type: t, status, clientId: cid } = sessionItem(created.rows[0] as SessionRow);
        return { items: [{ id, type: t, status, nonce, ...(cid ? { clientId: cid } : {}) }] };
      },
    }),
    route({
      method: 'GET',
      path: base,
      guard: auth.guard('sessionsAcl', 'LIST'),
      query: listQuery,
      async handler(_ctx, { guard: { project }, query }) {
        const found = await pg.state.query(
          `SELECT * FROM cognite.sessions WHERE project = $1 AND ($2::text IS NULL OR status = $2)
             AND id > coalesce($3::bigint, 0) ORDER BY id LIMIT $4`,
          [project, query.status ?? null, query.cursor ?? null, query.limit + 1],
        );
        const page = pageOf(found.rows as SessionRow[], (r) => r.id, query.limit);
        return { ...page, items: page.items.map(sessionItem) };
      },
    }),
    route({
      method: 'POST',
      path: `${base}/byids`,
      guard: auth.guard('sessionsAcl', 'LIST'),
      body: idsBody,
      async handler(_ctx, { guard: { project }, body }) {
        return { items: (await byIds(project, body)).map(sessionItem) };
      },
    }),
    route({
      method: 'POST',
      path: `${base}/revoke`,
      guard: auth.guard('sessionsAcl', 'DELETE'),
      body: idsBody,
      async handler(ctx, { guard: { project }, body }) {
        const rows = await byIds(project, body);
        // Idempotent: revoking a revoked session changes nothing.
        await pg.state.query("UPDATE cognite.sessions SET status = 'REVOKED' WHERE id = ANY($1::bigint[])", [rows.map((r) => r.id)]);
        const canList = await auth.authorize(ctx, project, 'sessionsAcl', 'LIST').then(() => true, () => false);
        return { items: rows.map((r) => (canList ? sessionItem({ ...r, status: 'REVOKED' }) : { id: Number(r.id) })) };
      },
    }),
  ];
}
