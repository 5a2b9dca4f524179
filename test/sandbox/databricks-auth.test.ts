/**
 * The Databricks emulator's workspace sign-in: host metadata, OIDC discovery, OAuth M2M tokens
 * (Basic auth or form), personal access tokens, token expiry on the injected clock, the error
 * shapes, and the environment `pgstacks sandbox` prints.
 */
import * as fs from 'node:fs';
import { request } from 'undici';
import { ManualClock, startSandbox, type Sandbox } from '../../src/sandbox';
import { oauthToken, Workspace } from './databricks-support';
import { tempDataDir } from './support';

let sandbox: Sandbox;
let dataDir: string;
const clock = new ManualClock(Date.UTC(2030, 0, 1));

beforeAll(async () => {
  dataDir = tempDataDir('databricks-auth');
  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0, clock, databricksTokenTtlSeconds: 600 });
});

afterAll(async () => {
  await sandbox?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await request(`${sandbox.databricks.host}${path}`, { headers });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
}

async function token(form: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await request(`${sandbox.databricks.host}/oidc/v1/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.statusCode, body: (await res.body.json()) as any };
}

const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });

test('the host is the sandbox URL; env() names it with the default service principal', () => {
  expect(sandbox.databricks.host).toBe(sandbox.url);
  const { clientId, clientSecret } = sandbox.databricks.defaultClient;
  expect(clientId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  expect(clientSecret).toMatch(/^dose[0-9a-f]+$/);
  expect(sandbox.databricks.token).toMatch(/^dapi[0-9a-f]{32}$/);
  expect(sandbox.env()).toMatchObject({ DATABRICKS_HOST: sandbox.url, DATABRICKS_CLIENT_ID: clientId, DATABRICKS_CLIENT_SECRET: clientSecret });
  expect(sandbox.env()).not.toHaveProperty('DATABRICKS_TOKEN');
});

test('host metadata and OIDC discovery point at the token endpoint under the host', async () => {
  const meta = await get('/.well-known/databricks-config');
  expect(meta).toEqual({ status: 200, body: { oidc_endpoint: `${sandbox.url}/oidc`, workspace_id: sandbox.databricks.workspaceId, account_id: expect.any(String) } });
  expect(sandbox.databricks.workspaceId).toMatch(/^\d+$/);
  const discovery = await get('/oidc/.well-known/oauth-authorization-server');
  expect(discovery.status).toBe(200);
  expect(discovery.body).toMatchObject({ token_endpoint: `${sandbox.url}/oidc/v1/token`, issuer: `${sandbox.url}/oidc` });
});

test('client credentials as HTTP Basic or in the form give a Bearer token that expires after the configured TTL', async () => {
  const { clientId, clientSecret } = sandbox.databricks.defaultClient;
  const viaBasic = await token({ grant_type: 'client_credentials', scope: 'all-apis' }, basic(clientId, clientSecret));
  expect(viaBasic).toEqual({ status: 200, body: { access_token: expect.any(String), token_type: 'Bearer', expires_in: 600, scope: 'all-apis' } });
  const viaForm = await token({ grant_type: 'client_credentials', scope: 'all-apis', client_id: clientId, client_secret: clientSecret });
  expect(viaForm.status).toBe(200);

  const workspace = new Workspace(sandbox, viaBasic.body.access_token);
  expect((await workspace.call('GET', 'projects')).status).toBe(200);
  clock.advance(599_999);
  expect((await workspace.call('GET', 'projects')).status).toBe(200);
  clock.advance(1);
  const expired = await workspace.call('GET', 'projects');
  expect(expired.status).toBe(401);
  expect(expired.body).toMatchObject({ error_code: 'UNAUTHENTICATED', message: expect.stringMatching(/expired/) });
});

test('token errors come as OAuth error JSON', async () => {
  const { clientId } = sandbox.databricks.defaultClient;
  const wrong = await token({ grant_type: 'client_credentials', scope: 'all-apis' }, basic(clientId, 'nope'));
  expect(wrong).toEqual({ status: 401, body: { error: 'invalid_client', error_description: expect.any(String) } });
  const unknown = await token({ grant_type: 'client_credentials' }, basic('someone-else', 'x'));
  expect(unknown.status).toBe(401);
  const grant = await token({ grant_type: 'password', username: 'a', password: 'b' });
  expect(grant).toEqual({ status: 400, body: { error: 'unsupported_grant_type', error_description: expect.any(String) } });
  const none = await token({});
  expect(none.status).toBe(400);
  expect(none.body.error).toBe('invalid_request');
});

test('the default PAT and added tokens and service principals are accepted as Bearer tokens', async () => {
  expect((await new Workspace(sandbox, sandbox.databricks.token).call('GET', 'projects')).status).toBe(200);
  const pat = await sandbox.databricks.addToken('jane.doe@example.com');
  expect((await new Workspace(sandbox, pat).call('GET', 'projects')).status).toBe(200);
  const client = await sandbox.databricks.addClient({ clientSecret: 'ci-secret' });
  expect(client.clientSecret).toBe('ci-secret');
  expect((await new Workspace(sandbox, await oauthToken(sandbox, client.clientId, 'ci-secret')).call('GET', 'projects')).status).toBe(200);
  await expect(sandbox.databricks.addClient({ clientId: sandbox.databricks.defaultClient.clientId })).rejects.toThrow(/default client/);
});

test('no token or an unknown one is a 401 UNAUTHENTICATED with a request id; workspace routing headers are ignored', async () => {
  const none = await get('/api/2.0/postgres/projects');
  expect(none.status).toBe(401);
  expect(none.body).toEqual({
    error_code: 'UNAUTHENTICATED',
    message: expect.any(String),
    details: [{ '@type': 'type.googleapis.com/google.rpc.RequestInfo', request_id: expect.any(String), serving_data: '' }],
  });
  expect((await get('/api/2.0/postgres/projects', { authorization: 'Bearer dapi0000' })).body.error_code).toBe('UNAUTHENTICATED');
  const routed = await get('/api/2.0/postgres/projects', {
    authorization: `Bearer ${sandbox.databricks.token}`,
    'x-databricks-workspace-id': '42',
    'x-databricks-org-id': '42',
  });
  expect(routed.status).toBe(200);
});

test('unknown API paths are 404s in the Databricks error shape', async () => {
  const res = await get('/api/2.0/postgres/projects/a/nothing/here', { authorization: `Bearer ${sandbox.databricks.token}` });
  expect(res.status).toBe(404);
  expect(res.body.error_code).toBe('NOT_FOUND');
});

test("SCIM Me names the caller: a service principal's application id, a user's email", async () => {
  const sp = await get('/api/2.0/preview/scim/v2/Me', { authorization: `Bearer ${await oauthToken(sandbox)}` });
  expect(sp).toMatchObject({ status: 200, body: { userName: sandbox.databricks.defaultClient.clientId, id: expect.stringMatching(/^\d+$/), active: true } });
  const user = await get('/api/2.0/preview/scim/v2/Me', { authorization: `Bearer ${sandbox.databricks.token}` });
  expect(user.body).toMatchObject({ userName: sandbox.databricks.tokenUser, emails: [{ value: sandbox.databricks.tokenUser, primary: true }] });
  expect((await get('/api/2.0/preview/scim/v2/Me')).body.error_code).toBe('UNAUTHENTICATED');
});
