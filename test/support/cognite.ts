/** Specs and helpers for the Cognite handler tests, over a running sandbox. */
import { Client } from 'pg';
import { request } from 'undici';
import type { ResourceSpec } from '../../src/runtime/spec';
import type { Sandbox } from '../../src/sandbox';
import { loadResourceTypes } from '../../src/manifests';

loadResourceTypes();

export const SECRET_ENV = 'CDF_CLIENT_SECRET';

/** The `project` props of a resource in `project` on the sandbox, authenticating as `clientId`. */
export function projectProps(sandbox: Sandbox, project = 'acme', clientId = sandbox.cognite.defaultClient.clientId, secretEnv = SECRET_ENV) {
  return {
    baseUrl: sandbox.cognite.baseUrl,
    project,
    tokenUrl: sandbox.cognite.tokenUrl,
    scopes: [`${sandbox.cognite.baseUrl}/.default`],
    credentials: { clientId, clientSecret: { $secret: { fromEnv: secretEnv } } },
  };
}

export function spec(type: string, id: string, props: Record<string, unknown>, options: Partial<ResourceSpec> = {}): ResourceSpec {
  return { type, stack: 'test', id, props: props as ResourceSpec['props'], removalPolicy: 'destroy', allowReplacement: false, aliases: [], ...options };
}

export function userSpec(sandbox: Sandbox, id = 'user', session?: { clientId: string; secretEnv: string }, project = 'acme'): ResourceSpec {
  const p = projectProps(sandbox, project);
  return spec('cognite:gateway-user', id, {
    project: p,
    session: session ? { clientId: session.clientId, clientSecret: { $secret: { fromEnv: session.secretEnv } } } : p.credentials,
  });
}

export function rawTableSpec(sandbox: Sandbox, user: string, extra: Record<string, unknown> = {}): ResourceSpec {
  return spec('cognite:gateway-raw-table', 'pumps', {
    project: projectProps(sandbox),
    username: { $ref: { resource: user, attribute: 'username' } },
    tablename: 'pumps',
    rawDatabase: 'ingest',
    rawTable: 'pumps',
    primaryKey: 'id',
    columns: [
      { name: 'id', type: 'TEXT' },
      { name: 'pressure', type: 'DOUBLE PRECISION' },
    ],
    ...extra,
  });
}

/** Logs in to the sandbox's Postgres as a gateway user. */
export async function connectAs(sandbox: Sandbox, user: string, password: string): Promise<Client> {
  const client = new Client({ host: sandbox.postgres.host, port: sandbox.postgres.port, user, password, database: user });
  await client.connect();
  return client;
}

/** A token for the default client, for calling the sandbox directly. */
export async function token(sandbox: Sandbox): Promise<string> {
  const { clientId, clientSecret } = sandbox.cognite.defaultClient;
  const res = await request(sandbox.cognite.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: 'x' }).toString(),
  });
  return ((await res.body.json()) as { access_token: string }).access_token;
}

/** GET a CDF path (below /api/v1/projects/{project}) as the default client. */
export async function cdfGet(sandbox: Sandbox, path: string, project = 'acme'): Promise<any> {
  const res = await request(`${sandbox.cognite.baseUrl}/api/v1/projects/${project}${path}`, { headers: { authorization: `Bearer ${await token(sandbox)}` } });
  return res.body.json();
}

export async function gatewayUsers(sandbox: Sandbox, project = 'acme'): Promise<Array<{ username: string; sessionId: number }>> {
  return (await cdfGet(sandbox, '/postgresgateway?limit=100', project)).items;
}
