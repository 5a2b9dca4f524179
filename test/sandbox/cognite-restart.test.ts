/**
 * The Cognite emulator over time: tokens and nonces expire on the injected clock (no sleeping), and
 * a restart with the same data directory keeps clients, users, tables and rows (tokens, kept in
 * memory, do not survive).
 */
import * as fs from 'node:fs';
import { ManualClock, startSandbox, type Sandbox } from '../../src/sandbox';
import { asSuperuser, Cdf, connect, http, spareDatabases, tempDataDir, tokenFor } from './support';

let dataDir: string;
let sandbox: Sandbox | undefined;

beforeAll(() => {
  dataDir = tempDataDir('cognite-restart');
});

afterAll(async () => {
  await sandbox?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('nonces and tokens expire after their configured lifetimes, on the injected clock', async () => {
  const start = Date.UTC(2030, 0, 1);
  const clock = new ManualClock(start);
  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0, cogniteTokenTtlSeconds: 120, cogniteNonceTtlSeconds: 60, clock, cogniteProjects: ['clock'] });
  const token = await http('POST', sandbox.cognite.tokenUrl, {
    form: { grant_type: 'client_credentials', client_id: sandbox.cognite.defaultClient.clientId, client_secret: sandbox.cognite.defaultClient.clientSecret },
  });
  expect(token.body.expires_in).toBe(120);
  const claims = JSON.parse(Buffer.from(token.body.access_token.split('.')[1], 'base64url').toString());
  expect(claims).toMatchObject({ iat: start / 1000, exp: start / 1000 + 120 });
  // Its own project, so the restart test below sees only its own user.
  const cdf = new Cdf(sandbox, token.body.access_token, 'clock');

  const [fresh, stale] = [await cdf.nonce(), await cdf.nonce()];
  clock.advance(59_999);
  const user = await cdf.post('/postgresgateway', { items: [{ credentials: { nonce: fresh } }] });
  expect(user.status).toBe(200);
  expect(user.body.items[0].createdTime).toBe(start + 59_999);
  clock.advance(1);
  const late = await cdf.post('/postgresgateway', { items: [{ credentials: { nonce: stale } }] });
  expect(late.status).toBe(400);
  expect(late.body.error.message).toMatch(/expired/);

  clock.advance(59_999);
  expect((await cdf.get('/postgresgateway')).status).toBe(200);
  clock.advance(1);
  const expired = await cdf.get('/postgresgateway');
  expect(expired.status).toBe(401);
  expect(expired.body.error.message).toMatch(/expired/);
  await sandbox.stop();
  sandbox = undefined;
});

test('a restart with the same data directory keeps the default client, users, tables and rows', async () => {
  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0 });
  const { clientSecret } = sandbox.cognite.defaultClient;
  expect(sandbox.env()).toEqual({
    PGSTACKS_SANDBOX_URL: sandbox.url,
    CDF_BASE_URL: `${sandbox.url}/cognite`,
    CDF_TOKEN_URL: `${sandbox.url}/login/sandbox/oauth2/v2.0/token`,
    CDF_CLIENT_ID: sandbox.cognite.defaultClient.clientId,
    CDF_CLIENT_SECRET: clientSecret,
    CDF_PROJECT: 'acme',
    DATABRICKS_HOST: sandbox.url,
    DATABRICKS_CLIENT_ID: sandbox.databricks.defaultClient.clientId,
    DATABRICKS_CLIENT_SECRET: sandbox.databricks.defaultClient.clientSecret,
    ATLAN_BASE_URL: sandbox.url,
    ATLAN_API_KEY: sandbox.atlan.apiKey,
  });
  await sandbox.cognite.addClient({ clientId: 'ci', clientSecret: 'ci-secret' });
  const cdf = new Cdf(sandbox, await tokenFor(sandbox));
  const user = await cdf.createUser();
  await cdf.post(`/postgresgateway/tables/${user.username}`, {
    items: [{ type: 'raw_rows', tablename: 'kept', options: { database: 'db', table: 'kept', primaryKey: 'k' }, columns: { k: { type: 'TEXT' }, n: { type: 'BIGINT' } } }],
  });
  const client = await connect(sandbox, user.username, user.password);
  await client.query("INSERT INTO kept VALUES ('a', 1)");
  await client.end();
  const oldToken = cdf.token;
  const leftSpares = await waitFor(() => spareDatabases(sandbox!), (names) => names.length === 2);
  await sandbox.stop();

  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0 });
  expect(sandbox.cognite.defaultClient.clientSecret).toBe(clientSecret);
  expect((await new Cdf(sandbox, oldToken).get('/postgresgateway')).status).toBe(401);
  const again = new Cdf(sandbox, await tokenFor(sandbox));
  await tokenFor(sandbox, 'ci', 'ci-secret');

  const users = await again.get('/postgresgateway');
  expect(users.body.items).toEqual([{ username: user.username, createdTime: user.createdTime, lastUpdatedTime: user.lastUpdatedTime, sessionId: user.sessionId }]);
  const tables = await again.get(`/postgresgateway/tables/${user.username}`);
  expect(tables.body.items.map((t: { tablename: string }) => t.tablename)).toEqual(['kept']);
  const rows = await again.get('/raw/dbs/db/tables/kept/rows');
  expect(rows.body.items).toEqual([{ key: 'a', columns: { n: 1 }, lastUpdatedTime: expect.any(Number) }]);

  const login = await connect(sandbox, user.username, user.password);
  expect((await login.query('SELECT n FROM kept')).rows).toEqual([{ n: '1' }]);
  await login.end();
  // The spares left by the last run are dropped and new ones made.
  const isNew = (name: string) => !leftSpares.includes(name);
  const newSpares = await waitFor(() => spareDatabases(sandbox!), (names) => names.length === 2 && names.every(isNew));
  expect(newSpares.filter((name) => !isNew(name))).toEqual([]);
  expect(newSpares).toHaveLength(2);
  const databases = await asSuperuser(sandbox, 'postgres', async (c) => (await c.query('SELECT datname FROM pg_database WHERE datname = ANY($1)', [leftSpares])).rows);
  expect(databases).toEqual([]);
  // Session ids keep counting up.
  const session = await again.post('/sessions', { items: [{ tokenExchange: true }] });
  expect(session.body.items[0].id).toBeGreaterThan(user.sessionId);
});

/** Polls `read` until `done` holds (10 s at most). */
async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (let waited = 0; ; waited += 100) {
    const value = await read();
    if (done(value) || waited >= 10_000) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
