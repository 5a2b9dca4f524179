/**
 * Heracles' credentials (`/credentials`): create (optionally tested first), test, get, list with a
 * filter, update (the rotation path) and purge (`/archive`, a hard delete). Reads never return the
 * password. A test really connects to the Postgres the credential names; it answers 200 either
 * way, with `message: "successful"` only when the connection worked.
 */
import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import * as z from 'zod';
import { ATLAN_AUTH_TYPES, ATLAN_CONNECTOR_CONFIG_NAME } from '../../services/atlan';
import type { Clock } from '../clock';
import { route, type Route } from '../http';
import type { PostgresServer } from '../postgres';
import { SourceError, testSource, type SourceCredential } from './crawler';
import { badRequest, notFound } from './errors';
import { flag, listPage, listQuery } from './filters';
import type { AtlanIdentity } from './identity';

export type Queryable = Pool | PoolClient;

/** A credential body as clients send it (camelCase); unknown fields are kept. */
export const credentialBody = z.looseObject({
  id: z.string().optional(),
  name: z.string().min(1).optional(),
  description: z.string().nullish(),
  host: z.string().nullish(),
  port: z.number().int().min(1).max(65535).nullish(),
  authType: z.string().min(1),
  connectorType: z.string().nullish(),
  username: z.string().nullish(),
  password: z.string().nullish(),
  extra: z.record(z.string(), z.unknown()).nullish(),
  connectorConfigName: z.string().min(1),
  metadata: z.record(z.string(), z.unknown()).nullish(),
  level: z.unknown().optional(),
  connector: z.string().nullish(),
});
export type CredentialBody = z.output<typeof credentialBody>;

/** What the credentials list may filter on; any other key is a 400. */
const FILTER_KEYS = ['id', 'name', 'description', 'host', 'port', 'authType', 'connectorType', 'connectorConfigName', 'connector', 'username', 'isActive', 'createdBy'];

export interface StoredCredential {
  readonly id: string;
  readonly body: CredentialBody;
  readonly password: string | undefined;
  readonly version: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly createdBy: string;
}

/** The Postgres connector takes only its own auth types (`iam`, atlan-java's spelling of iam_user, too). */
function checkBody(body: CredentialBody): void {
  if (body.connectorConfigName === ATLAN_CONNECTOR_CONFIG_NAME && ![...ATLAN_AUTH_TYPES, 'iam'].includes(body.authType)) {
    throw badRequest(`Invalid credential: authType '${body.authType}' is not one of ${ATLAN_AUTH_TYPES.join(', ')} for ${ATLAN_CONNECTOR_CONFIG_NAME}`);
  }
}

export function sourceOf(body: CredentialBody, password: string | undefined): SourceCredential {
  return {
    authType: body.authType,
    host: body.host ?? undefined,
    port: body.port ?? undefined,
    username: body.username ?? undefined,
    password,
    extra: body.extra ?? undefined,
  };
}

export class CredentialStore {
  constructor(
    private readonly pg: PostgresServer,
    private readonly clock: Clock,
  ) {}

  /** Stores a new credential (the secret apart from the body); returns it. */
  async create(db: Queryable, body: CredentialBody, createdBy: string): Promise<StoredCredential> {
    checkBody(body);
    const id = randomUUID();
    const now = this.clock.now();
    const { password, id: _ignored, ...rest } = body;
    const stored = { ...rest, name: rest.name ?? `credential-${id}` } as CredentialBody;
    await db.query(
      'INSERT INTO atlan.credentials (id, name, body, password, version, created_at, updated_at, created_by) VALUES ($1, $2, $3, $4, 1, $5, $5, $6)',
      [id, stored.name, JSON.stringify(stored), password ?? null, now, createdBy],
    );
    return { id, body: stored, password: password ?? undefined, version: 1, createdAt: now, updatedAt: now, createdBy };
  }

  async get(id: string, db: Queryable = this.pg.state): Promise<StoredCredential | undefined> {
    if (!isUuid(id)) return undefined;
    const row = (await db.query('SELECT * FROM atlan.credentials WHERE id = $1', [id])).rows[0];
    return row ? toStored(row) : undefined;
  }

  async all(): Promise<StoredCredential[]> {
    return (await this.pg.state.query('SELECT * FROM atlan.credentials ORDER BY created_at, id')).rows.map(toStored);
  }

  /** Replaces the body; a missing password keeps the stored one. */
  async update(id: string, body: CredentialBody): Promise<StoredCredential> {
    checkBody(body);
    const existing = await this.get(id);
    if (!existing) throw notFound(`Credential with id ${id} does not exist`);
    const { password, id: _ignored, ...rest } = body;
    const stored = { ...rest, name: rest.name ?? existing.body.name } as CredentialBody;
    const now = this.clock.now();
    const secret = password ?? existing.password ?? null;
    await this.pg.state.query('UPDATE atlan.credentials SET name = $2, body = $3, password = $4, version = version + 1, updated_at = $5 WHERE id = $1', [
      id,
      stored.name,
      JSON.stringify(stored),
      secret,
      now,
    ]);
    return { ...existing, body: stored, password: secret ?? undefined, version: existing.version + 1, updatedAt: now };
  }

  async purge(id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    return ((await this.pg.state.query('DELETE FROM atlan.credentials WHERE id = $1', [id])).rowCount ?? 0) > 0;
  }
}

/** A credential as reads return it: no password, ever. */
export function credentialResponse(credential: StoredCredential): Record<string, unknown> {
  const { body } = credential;
  return {
    id: credential.id,
    version: String(credential.version),
    isActive: true,
    createdAt: credential.createdAt,
    updatedAt: credential.updatedAt,
    createdBy: credential.createdBy,
    tenantId: 'default',
    name: body.name,
    description: body.description ?? null,
    connectorConfigName: body.connectorConfigName,
    connector: body.connector ?? body.connectorConfigName.replace(/^atlan-connectors-/, ''),
    connectorType: body.connectorType ?? null,
    authType: body.authType,
    host: body.host ?? null,
    port: body.port ?? null,
    metadata: body.metadata ?? null,
    level: body.level ?? null,
    connection: null,
    username: body.username ?? null,
    extra: body.extra ?? null,
  };
}

/** Tests a credential against its source: `undefined` when it connects, else why not. */
export async function testCredential(body: CredentialBody, password: string | undefined): Promise<string | undefined> {
  try {
    await testSource(sourceOf(body, password));
    return undefined;
  } catch (error) {
    if (error instanceof SourceError) return error.message;
    throw error;
  }
}

export function credentialRoutes(pg: PostgresServer, store: CredentialStore, identity: AtlanIdentity): Route[] {
  const read = identity.guard('read');
  const write = identity.guard('write');
  const guidParams = z.object({ guid: z.string() });
  const find = async (guid: string) => {
    const found = await store.get(guid);
    if (!found) throw notFound(`Credential with id ${guid} does not exist`);
    return found;
  };
  return [
    route({
      method: 'POST',
      path: '/credentials/test',
      guard: write,
      body: credentialBody,
      async handler(ctx, { body }) {
        // A test of a stored credential without its secret uses the stored secret.
        const stored = body.id && body.password === undefined ? await store.get(body.id) : undefined;
        const failure = await testCredential(body, body.password ?? stored?.password);
        return { code: failure ? 400 : 200, error: failure ?? null, info: null, message: failure ?? 'successful', requestId: ctx.requestId };
      },
    }),
    route({
      method: 'POST',
      path: '/credentials',
      guard: write,
      query: z.looseObject({ testCredential: flag }),
      body: credentialBody,
      async handler(_ctx, { body, query, guard }) {
        if (query.testCredential) {
          const failure = await testCredential(body, body.password ?? undefined);
          if (failure) throw badRequest(`Credential test failed: ${failure}`);
        }
        return credentialResponse(await store.create(pg.state, body, guard.username));
      },
    }),
    route({
      method: 'GET',
      path: '/credentials',
      guard: read,
      query: listQuery,
      handler: async (_ctx, { query }) => listPage((await store.all()).map(credentialResponse), query, FILTER_KEYS),
    }),
    route({
      method: 'GET',
      path: '/credentials/:guid',
      guard: read,
      params: guidParams,
      handler: async (_ctx, { params }) => credentialResponse(await find(params.guid)),
    }),
    route({
      method: 'POST',
      path: '/credentials/:guid',
      guard: write,
      params: guidParams,
      body: credentialBody,
      async handler(_ctx, { params, body }) {
        if (body.id !== undefined && body.id !== params.guid) throw badRequest(`Invalid credential: id '${body.id}' does not match the path's '${params.guid}'`);
        return credentialResponse(await store.update(params.guid, body));
      },
    }),
    route({
      method: 'POST',
      path: '/credentials/:guid/archive',
      guard: write,
      params: guidParams,
      async handler(_ctx, { params }) {
        const found = await find(params.guid);
        await store.purge(params.guid);
        return credentialResponse(found);
      },
    }),
  ];
}

function toStored(row: Record<string, any>): StoredCredential {
  return {
    id: row.id,
    body: row.body,
    password: row.password ?? undefined,
    version: Number(row.version),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    createdBy: row.created_by,
  };
}

export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
