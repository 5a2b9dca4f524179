/**
 * The Cognite emulator over real HTTP and a real Postgres: auth, sessions, gateway users (real
 * logins), gateway tables (real tables), RAW reads and injected faults.
 */
import * as fs from 'node:fs';
import { request } from 'undici';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { asSuperuser, Cdf, connect, http, spareDatabases, readySpareDatabases, sqlState, tempDataDir, tokenFor } from './support';

let sandbox: Sandbox;
let dataDir: string;
let cdf: Cdf;
/** Projects of their own keep some tests' users apart. */
const projects = ['acme', 'lossy', 'lossy-before', 'other', 'paging'];

beforeAll(async () => {
  dataDir = tempDataDir('cognite');
  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0, cogniteProjects: projects });
  cdf = new Cdf(sandbox, await tokenFor(sandbox));
});

afterAll(async () => {
  await sandbox?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

afterEach(() => sandbox.faults.clear());

const pumpsTable = (tablename = 'pumps') => ({
  type: 'raw_rows',
  tablename,
  options: { database: 'plant', table: 'pumps', primaryKey: 'tag' },
  columns: { tag: { type: 'TEXT' }, flow: { type: 'DOUBLE PRECISION' }, installed: { type: 'TIMESTAMPTZ' }, meta: { type: 'JSON' } },
});

describe('tokens and auth', () => {
  test('client credentials in the form or as Basic auth give a Bearer token; bad ones a 401 invalid_client', async () => {
    const { clientId, clientSecret } = sandbox.cognite.defaultClient;
    const form = await http('POST', sandbox.cognite.tokenUrl, {
      form: { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: 'https://x/.default' },
    });
    expect(form.status).toBe(200);
    expect(form.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    expect(form.body.access_token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);

    const basic = await http('POST', sandbox.cognite.tokenUrl, {
      form: { grant_type: 'client_credentials', scope: 'https://x/.default' },
      headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` },
    });
    expect(basic.status).toBe(200);

    const bad = await http('POST', sandbox.cognite.tokenUrl, { form: { grant_type: 'client_credentials', client_id: clientId, client_secret: 'wrong' } });
    expect(bad.status).toBe(401);
    expect(bad.body).toMatchObject({ error: 'invalid_client' });
    expect(bad.body.error_description).toContain(clientId);
  });

  test('token/inspect names the client, its projects and its capabilities', async () => {
    const res = await http('GET', `${sandbox.cognite.baseUrl}/api/v1/token/inspect`, { token: cdf.token });
    expect(res.status).toBe(200);
    expect(res.body.subject).toBe(sandbox.cognite.defaultClient.clientId);
    expect(res.body.projects).toEqual(projects.map((projectUrlName) => ({ projectUrlName, groups: [expect.any(Number)] })));
    expect(res.body.capabilities).toContainEqual({
      postgresGatewayAcl: { actions: ['READ', 'WRITE'], scope: { all: {} } },
      projectScope: { allProjects: {} },
    });
    expect(res.body.capabilities).toContainEqual(expect.objectContaining({ sessionsAcl: { actions: ['CREATE', 'LIST', 'DELETE'], scope: { all: {} } } }));
  });

  test('no token or an unknown one is a 401 in the CDF error shape, with a request id', async () => {
    const none = await http('GET', cdf.url('/postgresgateway'));
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ error: { code: 401, message: expect.stringContaining('Bearer') } });
    expect(none.headers['x-request-id']).toMatch(/^[0-9a-f]{16}$/);

    const forged = await http('GET', cdf.url('/postgresgateway'), { token: `${cdf.token}x` });
    expect(forged.status).toBe(401);
    expect(forged.body.error.code).toBe(401);
  });

  test('a client without a capability gets a 403 that names it', async () => {
    await sandbox.cognite.addClient({
      clientId: 'sessions-only',
      clientSecret: 'sessions-only-secret',
      capabilities: [{ sessionsAcl: { actions: ['CREATE'], scope: { all: {} } }, projectScope: { allProjects: {} } }],
    });
    const limited = new Cdf(sandbox, await tokenFor(sandbox, 'sessions-only', 'sessions-only-secret'));
    const create = await limited.post('/postgresgateway', { items: [{ credentials: { nonce: await limited.nonce() } }] });
    expect(create.status).toBe(403);
    expect(create.body.error.code).toBe(403);
    expect(create.body.error.message).toContain('postgresGatewayAcl:WRITE');

    const raw = await limited.get('/raw/dbs');
    expect(raw.status).toBe(403);
    expect(raw.body.error.message).toContain('rawAcl:READ');

    // projectScope must cover the project.
    await sandbox.cognite.addClient({
      clientId: 'other-project',
      clientSecret: 'other-project-secret',
      capabilities: [{ postgresGatewayAcl: { actions: ['READ', 'WRITE'], scope: { all: {} } }, projectScope: { projects: ['other'] } }],
    });
    const elsewhere = new Cdf(sandbox, await tokenFor(sandbox, 'other-project', 'other-project-secret'));
    expect((await elsewhere.get('/postgresgateway')).status).toBe(403);
    expect((await new Cdf(sandbox, elsewhere.token, 'other').get('/postgresgateway')).status).toBe(200);
    expect((await elsewhere.post('/sessions', { items: [{ tokenExchange: true }] })).body.error.message).toContain('sessionsAcl:CREATE');
  });

  test("a client's changed capabilities hold from its next request, with the token it has", async () => {
    const grant = (actions: string[]) => [{ postgresGatewayAcl: { actions, scope: { all: {} } }, projectScope: { allProjects: {} } }];
    await sandbox.cognite.addClient({ clientId: 'changing', clientSecret: 'changing-secret', capabilities: grant(['READ']) });
    const changing = new Cdf(sandbox, await tokenFor(sandbox, 'changing', 'changing-secret'));
    expect((await changing.get('/postgresgateway')).status).toBe(200);
    await sandbox.cognite.addClient({ clientId: 'changing', clientSecret: 'changing-secret', capabilities: grant(['WRITE']) });
    const read = await changing.get('/postgresgateway');
    expect(read.status).toBe(403);
    expect(read.body.error.message).toContain('postgresGatewayAcl:READ');
    await sandbox.cognite.addClient({ clientId: 'changing', clientSecret: 'changing-secret', capabilities: grant(['READ', 'WRITE']) });
    expect((await changing.get('/postgresgateway')).status).toBe(200);
  });
});

describe('sessions', () => {
  test('client credentials or token exchange give a READY session with a large id and a nonce', async () => {
    const { clientId, clientSecret } = sandbox.cognite.defaultClient;
    const cc = await cdf.post('/sessions', { items: [{ clientId, clientSecret }] });
    expect(cc.status).toBe(200);
    expect(cc.body.items).toEqual([{ id: expect.any(Number), type: 'CLIENT_CREDENTIALS', status: 'READY', nonce: expect.any(String), clientId }]);
    expect(cc.body.items[0].id).toBeGreaterThanOrEqual(4503599627370496);

    const te = await cdf.post('/sessions', { items: [{ tokenExchange: true }] });
    expect(te.body.items[0]).toMatchObject({ type: 'TOKEN_EXCHANGE', status: 'READY' });
    expect(te.body.items[0]).not.toHaveProperty('clientId');

    const byIds = await cdf.post('/sessions/byids', { items: [{ id: cc.body.items[0].id }] });
    expect(byIds.body.items).toEqual([expect.objectContaining({ id: cc.body.items[0].id, status: 'READY', clientId })]);
    const revoked = await cdf.post('/sessions/revoke', { items: [{ id: cc.body.items[0].id }] });
    expect(revoked.body.items[0]).toMatchObject({ id: cc.body.items[0].id, status: 'REVOKED' });
    expect((await cdf.post('/sessions/revoke', { items: [{ id: cc.body.items[0].id }] })).status).toBe(200); // idempotent
    const listed = await cdf.get('/sessions?status=REVOKED');
    expect(listed.body.items.map((s: { id: number }) => s.id)).toContain(cc.body.items[0].id);
  });

  test('bad session requests are 400s: wrong secret, two items', async () => {
    const wrong = await cdf.post('/sessions', { items: [{ clientId: sandbox.cognite.defaultClient.clientId, clientSecret: 'nope' }] });
    expect(wrong.status).toBe(400);
    const two = await cdf.post('/sessions', { items: [{ tokenExchange: true }, { tokenExchange: true }] });
    expect(two.status).toBe(400);
    expect(two.body.error.message).toMatch(/at most 1 item/);
  });
});

describe('gateway users', () => {
  test('a created user is a real Postgres login to its own database only, and cannot create tables', async () => {
    const user = await cdf.createUser();
    expect(user).toEqual({
      host: '127.0.0.1',
      port: sandbox.postgres.port,
      username: expect.stringMatching(/^[a-z][a-z0-9]{15,62}$/),
      password: expect.any(String),
      createdTime: expect.any(Number),
      lastUpdatedTime: expect.any(Number),
      sessionId: expect.any(Number),
    });
    const session = await cdf.post('/sessions/byids', { items: [{ id: user.sessionId }] });
    expect(session.body.items[0].status).toBe('ACTIVE');

    const client = await connect(sandbox, user.username, user.password);
    expect((await client.query('SELECT current_user AS u, current_database() AS d')).rows[0]).toEqual({ u: user.username, d: user.username });
    expect(await sqlState(client.query('CREATE TABLE mine (id int)'))).toBe('42501');
    expect(await sqlState(client.query('CREATE TEMP TABLE mine (id int)'))).toBe('42501');
    expect(await sqlState(client.query('CREATE SCHEMA mine'))).toBe('42501');
    await client.end();

    expect(await sqlState(connect(sandbox, user.username, `${user.password}x`))).toBe('28P01');

    const other = await cdf.createUser();
    expect(await sqlState(connect(sandbox, user.username, user.password, other.username))).toBe('42501');
    expect(await sqlState(connect(sandbox, user.username, user.password, 'pgstacks_sandbox'))).toBe('42501');
    expect(await sqlState(connect(sandbox, user.username, user.password, 'postgres'))).toBe('42501');
  });

  test('a nonce is single-use', async () => {
    const nonce = await cdf.nonce();
    expect((await cdf.post('/postgresgateway', { items: [{ credentials: { nonce } }] })).status).toBe(200);
    const again = await cdf.post('/postgresgateway', { items: [{ credentials: { nonce } }] });
    expect(again.status).toBe(400);
    expect(again.body.error.message).toMatch(/already been used/);
    const unknown = await cdf.post('/postgresgateway', { items: [{ credentials: { nonce: 'made-up' } }] });
    expect(unknown.status).toBe(400);
  });

  test('create takes exactly one item and no extra fields (422), and accepts a gzipped body', async () => {
    const none = await cdf.post('/postgresgateway', { items: [] });
    expect(none.status).toBe(422);
    expect(none.body.error.message).toMatch(/at least 1 item/);
    const two = await cdf.post('/postgresgateway', { items: [{ credentials: { nonce: await cdf.nonce() } }, { credentials: { nonce: await cdf.nonce() } }] });
    expect(two.status).toBe(422);
    expect(two.body.error.message).toMatch(/at most 1 item/);
    const named = await cdf.post('/postgresgateway', { items: [{ username: 'chosen', credentials: { nonce: await cdf.nonce() } }] });
    expect(named.status).toBe(422);
    expect(named.body.error.message).toBe('Extra inputs are not permitted: username');

    const gzipped = await cdf.post('/postgresgateway', { items: [{ credentials: { nonce: await cdf.nonce() } }] }, { gzip: true });
    expect(gzipped.status).toBe(200);
  });

  test('list pages with nextCursor; GET clamps limit to 100, POST /list allows at most 10', async () => {
    const project = new Cdf(sandbox, cdf.token, 'paging');
    const created = [await project.createUser(), await project.createUser(), await project.createUser()].map((u) => u.username).sort();

    const first = await project.get('/postgresgateway?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(2);
    expect(first.body.items[0]).not.toHaveProperty('password');
    expect(first.body.items[0]).not.toHaveProperty('host');
    expect(typeof first.body.nextCursor).toBe('string');
    const second = await project.get(`/postgresgateway?limit=2&cursor=${encodeURIComponent(first.body.nextCursor)}`);
    expect(second.body.items).toHaveLength(1);
    expect(second.body).not.toHaveProperty('nextCursor');
    expect([...first.body.items, ...second.body.items].map((u: { username: string }) => u.username).sort()).toEqual(created);

    const clamped = await project.get('/postgresgateway?limit=1000');
    expect(clamped.status).toBe(200);
    expect(clamped.body.items).toHaveLength(3);
    expect((await project.get('/postgresgateway?limit=0')).status).toBe(422);

    const posted = await project.post('/postgresgateway/list', { limit: 2 });
    expect(posted.body.items).toHaveLength(2);
    const rest = await project.post('/postgresgateway/list', { limit: 2, cursor: posted.body.nextCursor });
    expect(rest.body.items).toHaveLength(1);
    expect((await project.post('/postgresgateway/list', { limit: 11 })).status).toBe(422);

    // Users belong to their project.
    const elsewhere = await cdf.post('/postgresgateway/byids', { items: [{ username: created[0] }], ignoreUnknownIds: true });
    expect(elsewhere.body.items).toEqual([]);
  });

  test('byids: unknown usernames are a 404 with missing, or skipped with ignoreUnknownIds', async () => {
    const user = await cdf.createUser();
    const found = await cdf.post('/postgresgateway/byids', { items: [{ username: user.username }] });
    expect(found.body.items).toEqual([{ username: user.username, createdTime: user.createdTime, lastUpdatedTime: user.lastUpdatedTime, sessionId: user.sessionId }]);

    const unknown = await cdf.post('/postgresgateway/byids', { items: [{ username: user.username }, { username: 'nobody' }] });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: { code: 404, message: expect.any(String), missing: [{ username: 'nobody' }] } });

    const ignored = await cdf.post('/postgresgateway/byids', { items: [{ username: 'nobody' }], ignoreUnknownIds: true });
    expect(ignored.status).toBe(200);
    expect(ignored.body.items).toEqual([]);
    const tooMany = await cdf.post('/postgresgateway/byids', { items: Array.from({ length: 11 }, (_, i) => ({ username: `u${i}` })) });
    expect(tooMany.status).toBe(422);
  });

  test('update rotates the session and keeps the username and password', async () => {
    const user = await cdf.createUser();
    const res = await cdf.post('/postgresgateway/update', {
      items: [{ username: user.username, update: { credentials: { set: { nonce: await cdf.nonce() } } } }],
    });
    expect(res.status).toBe(200);
    const [updated] = res.body.items;
    expect(updated.username).toBe(user.username);
    expect(updated.sessionId).not.toBe(user.sessionId);
    expect(updated.lastUpdatedTime).toBeGreaterThan(user.lastUpdatedTime);
    expect(updated.createdTime).toBe(user.createdTime);
    expect(updated).not.toHaveProperty('password');
    const client = await connect(sandbox, user.username, user.password);
    await client.end();

    const unknown = await cdf.post('/postgresgateway/update', { items: [{ username: 'nobody', update: { credentials: { set: { nonce: await cdf.nonce() } } } }] });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.missing).toEqual([{ username: 'nobody' }]);
  });

  test('delete drops the database and the role; unknown users honour both ignore spellings', async () => {
    const user = await cdf.createUser();
    await cdf.post(`/postgresgateway/tables/${user.username}`, { items: [pumpsTable()] });
    const res = await cdf.post('/postgresgateway/delete', { items: [{ username: user.username }] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    const left = await asSuperuser(sandbox, 'postgres', (c) =>
      c.query('SELECT (SELECT count(*) FROM pg_database WHERE datname = $1)::int AS dbs, (SELECT count(*) FROM pg_roles WHERE rolname = $1)::int AS roles', [user.username]),
    );
    expect(left.rows[0]).toEqual({ dbs: 0, roles: 0 });
    expect(await sqlState(connect(sandbox, user.username, user.password))).toBe('28P01');

    const again = await cdf.post('/postgresgateway/delete', { items: [{ username: user.username }] });
    expect(again.status).toBe(404);
    expect(again.body.error.missing).toEqual([{ username: user.username }]);
    expect((await cdf.post('/postgresgateway/delete', { items: [{ username: user.username }], ignore_unknown_ids: true })).status).toBe(200);
    expect((await cdf.post('/postgresgateway/delete', { items: [{ username: user.username }], ignoreUnknownIds: true })).status).toBe(200);
    expect((await cdf.get(`/postgresgateway/tables/${user.username}`)).status).toBe(404);
  });
});

describe('spare gateway databases', () => {
  const spares = () => spareDatabases(sandbox);
  const oids = (names: string[]) =>
    asSuperuser(sandbox, 'postgres', async (c) => (await c.query('SELECT oid::int FROM pg_database WHERE datname = ANY($1) ORDER BY oid', [names])).rows.map((r) => r.oid as number));
  async function sparesReady(count: number): Promise<string[]> {
    for (let waited = 0; waited < 10_000; waited += 100) {
      const names = await readySpareDatabases(sandbox);
      if (names.length >= count) return names;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('no spare databases were made');
  }

  test('a user made from a spare database is the same as one made fresh: own database only, raw tables write to RAW', async () => {
    const ready = await sparesReady(2);
    const readyOids = await oids(ready);
    const users = [await cdf.createUser(), await cdf.createUser(), await cdf.createUser()];
    // The first two took the spares, named after them in advance; the third made its own database.
    // (New spares may already be on their way if the creates took longer than the quiet interval,
    // so check names.)
    expect((await spares()).filter((name) => ready.includes(name))).toEqual([]);
    expect(users.slice(0, 2).map((u) => u.username).sort()).toEqual(ready.slice(0, 2).sort());
    expect(await oids(users.slice(0, 2).map((u) => u.username))).toEqual(readyOids);
    for (const [i, user] of users.entries()) {
      const client = await connect(sandbox, user.username, user.password);
      expect((await client.query('SELECT current_database() AS d')).rows[0].d).toBe(user.username);
      expect(await sqlState(client.query('CREATE TABLE mine (id int)'))).toBe('42501');
      const path = `/postgresgateway/tables/${user.username}`;
      const table = { type: 'raw_rows', tablename: 'levels', options: { database: 'spares', table: `levels${i}`, primaryKey: 'tag' }, columns: { tag: { type: 'TEXT' }, level: { type: 'BIGINT' } } };
      expect((await cdf.post(path, { items: [table] })).status).toBe(200);
      await client.query(`INSERT INTO levels (tag, level) VALUES ('L-${i}', ${i})`);
      await client.end();
      expect((await cdf.get(`/raw/dbs/spares/tables/levels${i}/rows`)).body.items).toEqual([{ key: `L-${i}`, columns: { level: i }, lastUpdatedTime: expect.any(Number) }]);
      expect(await sqlState(connect(sandbox, user.username, user.password, users[(i + 1) % 3].username))).toBe('42501');
    }
    // Made again once the sandbox is quiet.
    expect(await sparesReady(2)).toHaveLength(2);
  });

  test('a spare whose connection is lost is not used, and the sandbox goes on', async () => {
    const ready = await sparesReady(2);
    await asSuperuser(sandbox, 'postgres', (c) => c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ANY($1)', [ready]));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const user = await cdf.createUser();
    expect(ready).not.toContain(user.username);
    const client = await connect(sandbox, user.username, user.password);
    expect((await client.query('SELECT current_database() AS d')).rows[0].d).toBe(user.username);
    await client.end();
  });
});

describe('gateway tables', () => {
  let user: Awaited<ReturnType<Cdf['createUser']>>;
  beforeAll(async () => {
    user = await cdf.createUser();
  });
  const tables = (suffix = '') => `/postgresgateway/tables/${encodeURIComponent(user.username)}${suffix}`;

  test('a raw table is a real table; rows written as the user show up in RAW, and a key is replaced, not repeated', async () => {
    const created = await cdf.post(tables(), { items: [pumpsTable()] });
    expect(created.status).toBe(200);
    expect(created.body.items).toEqual([{ ...pumpsTable(), createdTime: expect.any(Number) }]);

    const client = await connect(sandbox, user.username, user.password);
    await client.query(`INSERT INTO pumps (tag, flow, installed, meta) VALUES ('P-1', 1.5, '2024-01-02T03:04:05Z', '{"a":1}'), ('P-2', 2, NULL, NULL)`);
    const rows = await cdf.get('/raw/dbs/plant/tables/pumps/rows');
    expect(rows.status).toBe(200);
    expect(rows.body.items).toEqual([
      { key: 'P-1', columns: { flow: 1.5, installed: '2024-01-02T03:04:05+00:00', meta: { a: 1 } }, lastUpdatedTime: expect.any(Number) },
      { key: 'P-2', columns: { flow: 2, installed: null, meta: null }, lastUpdatedTime: expect.any(Number) },
    ]);
    expect(Math.abs(rows.body.items[0].lastUpdatedTime - Date.now())).toBeLessThan(60_000);

    await client.query(`INSERT INTO pumps (tag, flow) VALUES ('P-1', 9)`);
    expect((await client.query('SELECT tag, flow FROM pumps ORDER BY tag')).rows).toEqual([
      { tag: 'P-1', flow: 9 },
      { tag: 'P-2', flow: 2 },
    ]);
    const replaced = await cdf.get('/raw/dbs/plant/tables/pumps/rows');
    expect(replaced.body.items.map((r: { key: string; columns: { flow: number } }) => [r.key, r.columns.flow])).toEqual([['P-1', 9], ['P-2', 2]]);
    // An UPDATE onto an existing key replaces that row too.
    await client.query(`UPDATE pumps SET tag = 'P-1' WHERE tag = 'P-2'`);
    expect((await client.query('SELECT tag, flow FROM pumps')).rows).toEqual([{ tag: 'P-1', flow: 2 }]);
    expect(await sqlState(client.query(`INSERT INTO pumps (flow) VALUES (1)`))).toBe('23502');
    await client.end();

    expect((await cdf.get('/raw/dbs')).body.items).toContainEqual({ name: 'plant' });
    expect((await cdf.get('/raw/dbs/plant/tables')).body.items).toEqual([{ name: 'pumps' }]);
    expect((await cdf.get('/raw/dbs/plant/tables/pumps/rows/P-1')).body).toMatchObject({ key: 'P-1', columns: { flow: 2 } });
    expect((await cdf.get('/raw/dbs/nowhere/tables')).status).toBe(404);
  });

  test('a table without primaryKey keys rows by content; a view table gets generic columns', async () => {
    const res = await cdf.post(tables(), {
      items: [
        { type: 'raw_rows', tablename: 'readings', options: { database: 'plant', table: 'readings' }, columns: { v: { type: 'BIGINT' }, tags: { type: 'TEXT[]' } } },
        { type: 'view', tablename: 'pump_view', options: { space: 'plant', externalId: 'Pump', version: 'v1' } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.items[1]).toEqual({ tablename: 'pump_view', type: 'view', createdTime: expect.any(Number), options: { space: 'plant', externalId: 'Pump', version: 'v1' }, columns: {} });
    const client = await connect(sandbox, user.username, user.password);
    await client.query(`INSERT INTO readings VALUES (1, '{a,b}'), (1, '{a,b}'), (2, NULL)`);
    expect((await client.query('SELECT count(*)::int AS n FROM readings')).rows[0].n).toBe(2);
    await client.query(`INSERT INTO pump_view (space, external_id, properties) VALUES ('plant', 'p1', '{"x":1}'), ('plant', 'p1', '{"x":2}')`);
    expect((await client.query('SELECT properties FROM pump_view')).rows).toEqual([{ properties: { x: 2 } }]);
    await client.end();
    const raw = await cdf.get('/raw/dbs/plant/tables/readings/rows');
    expect(raw.body.items).toHaveLength(2);
    expect(raw.body.items.map((r: { columns: { v: number } }) => r.columns.v).sort()).toEqual([1, 2]);
  });

  test('validation: duplicates 409, built-in names, bad types, extra fields and item counts 422', async () => {
    await cdf.post(tables(), { items: [pumpsTable('dupe')] });
    const dupe = await cdf.post(tables(), { items: [pumpsTable('dupe')] });
    expect(dupe.status).toBe(409);
    expect(dupe.body.error.duplicated).toEqual([{ tablename: 'dupe' }]);
    const sameBatch = await cdf.post(tables(), { items: [pumpsTable('twice'), pumpsTable('twice')] });
    expect(sameBatch.status).toBe(409);

    const builtIn = await cdf.post(tables(), { items: [pumpsTable('assets')] });
    expect(builtIn.status).toBe(422);
    expect(builtIn.body.error.message).toContain('assets');

    const badType = await cdf.post(tables(), { items: [{ ...pumpsTable('bad_type'), columns: { tag: { type: 'INTEGER' } } }] });
    expect(badType.status).toBe(422);
    expect(badType.body.error.message).toContain('items.0.columns.tag.type');

    const extra = await cdf.post(tables(), { items: [{ ...pumpsTable('extra'), createdTime: 1 }] });
    expect(extra.status).toBe(422);
    expect(extra.body.error.message).toBe('Extra inputs are not permitted: createdTime');
    const viewWithColumns = await cdf.post(tables(), { items: [{ type: 'view', tablename: 'v2', options: { space: 's', externalId: 'V' }, columns: {} }] });
    expect(viewWithColumns.status).toBe(422);
    expect(viewWithColumns.body.error.message).toBe('Extra inputs are not permitted: columns');
    expect((await cdf.post(tables(), { items: [{ ...pumpsTable('t'), type: 'raw' }] })).status).toBe(422);
    expect((await cdf.post(tables(), { items: [{ ...pumpsTable('x'.repeat(61)) }] })).status).toBe(422);
    expect((await cdf.post(tables(), { items: [] })).status).toBe(422);
    expect((await cdf.post(tables(), { items: Array.from({ length: 11 }, (_, i) => pumpsTable(`t${i}`)) })).status).toBe(422);
    expect((await cdf.post(tables(), { items: [{ ...pumpsTable('bad_pk'), options: { database: 'd', table: 't', primaryKey: 'nope' } }] })).status).toBe(422);

    // Nothing of the rejected batches was created.
    const names = (await cdf.get(tables())).body.items.map((t: { tablename: string }) => t.tablename);
    expect(names).not.toEqual(expect.arrayContaining(['twice']));
    expect(names).not.toContain('bad_type');
  });

  test('list, byids and delete; includeBuiltIns accepts true/yes/1 and false/no/0', async () => {
    await cdf.post(tables(), { items: [pumpsTable('listed_a'), pumpsTable('listed_b')] });
    const plain = await cdf.get(tables());
    expect(plain.status).toBe(200);
    expect(plain.body.items).toContainEqual({ tablename: 'listed_a', type: 'raw_rows', options: pumpsTable().options, columns: pumpsTable().columns });
    expect(plain.body.items.every((t: object) => !('createdTime' in t))).toBe(true);
    expect(plain.body.items.some((t: { type: string }) => t.type === 'built_in')).toBe(false);

    for (const flag of ['true', 'yes', '1']) {
      const withBuiltIns = await cdf.get(tables(`?includeBuiltIns=${flag}&limit=100`));
      expect(withBuiltIns.body.items).toContainEqual({
        tablename: 'double_datapoints',
        type: 'built_in',
        columns: { value: { type: 'DOUBLE PRECISION' }, timestamp: { type: 'TIMESTAMPTZ' }, external_id: { type: 'VARCHAR' }, id: { type: 'BIGINT' } },
      });
    }
    for (const flag of ['false', 'no', '0']) {
      expect((await cdf.get(tables(`?includeBuiltIns=${flag}`))).body.items.some((t: { type: string }) => t.type === 'built_in')).toBe(false);
    }
    expect((await cdf.get(tables('?includeBuiltIns=maybe'))).status).toBe(422);

    const first = await cdf.get(tables('?limit=1&includeBuiltIns=yes'));
    expect(first.body.items).toHaveLength(1);
    const second = await cdf.get(tables(`?limit=1&includeBuiltIns=yes&cursor=${encodeURIComponent(first.body.nextCursor)}`));
    expect(second.body.items[0].tablename > first.body.items[0].tablename).toBe(true);

    const byIds = await cdf.post(tables('/byids'), { items: [{ tablename: 'listed_a' }] });
    expect(byIds.body.items).toEqual([{ tablename: 'listed_a', type: 'raw_rows', options: pumpsTable().options, columns: pumpsTable().columns }]);
    const missing = await cdf.post(tables('/byids'), { items: [{ tablename: 'listed_a' }, { tablename: 'ghost' }] });
    expect(missing.status).toBe(404);
    expect(missing.body.error.missing).toEqual([{ tablename: 'ghost' }]);
    expect((await cdf.post(tables('/byids'), { items: [{ tablename: 'ghost' }], ignoreUnknownIds: true })).body.items).toEqual([]);

    expect((await cdf.post(tables('/delete'), { items: [{ tablename: 'listed_a' }, { tablename: 'ghost' }] })).status).toBe(404);
    expect((await cdf.post(tables('/delete'), { items: [{ tablename: 'listed_a' }, { tablename: 'ghost' }], ignoreUnknownIds: true })).body).toEqual({});
    const exists = await asSuperuser(sandbox, user.username, (c) => c.query("SELECT to_regclass('public.listed_a') AS a, to_regclass('public.listed_b') AS b"));
    expect(exists.rows[0]).toEqual({ a: null, b: 'listed_b' });
  });

  test('an unknown user in the path is a 404 with missing', async () => {
    const res = await cdf.post('/postgresgateway/tables/nobody', { items: [pumpsTable('x')] });
    expect(res.status).toBe(404);
    expect(res.body.error.missing).toEqual([{ username: 'nobody' }]);
    expect((await cdf.get('/postgresgateway/tables/nobody')).status).toBe(404);
  });
});

describe('faults', () => {
  test('a 429 with Retry-After, then normal service', async () => {
    sandbox.faults.add({ method: 'GET', path: cdf.url('/postgresgateway').replace(sandbox.url, ''), status: 429, retryAfterSeconds: 2 });
    const limited = await cdf.get('/postgresgateway');
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('2');
    expect(limited.body).toEqual({ error: { code: 429, message: expect.any(String) } });
    expect(limited.headers['x-request-id']).toBeDefined();
    expect((await cdf.get('/postgresgateway')).status).toBe(200);
    expect(sandbox.faults.applied).toEqual([{ method: 'GET', path: '/cognite/api/v1/projects/acme/postgresgateway', fault: '429' }]);
  });

  test('a 503 burst matched by RegExp applies `times` times', async () => {
    sandbox.faults.add({ path: /\/postgresgateway\/byids$/, status: 503, times: 2 });
    const body = { items: [{ username: 'nobody' }], ignoreUnknownIds: true };
    expect((await cdf.post('/postgresgateway/byids', body)).status).toBe(503);
    expect((await cdf.post('/postgresgateway/byids', body)).body.error.code).toBe(503);
    expect((await cdf.post('/postgresgateway/byids', body)).status).toBe(200);
    expect(sandbox.faults.applied.map((f) => f.fault)).toEqual(['503', '503']);
  });

  test('drop after handling: the user is created although the client sees a socket error', async () => {
    const project = new Cdf(sandbox, cdf.token, 'lossy');
    const nonce = await project.nonce();
    sandbox.faults.add({ method: 'POST', path: '/cognite/api/v1/projects/lossy/postgresgateway', drop: 'after' });
    await expect(
      request(project.url('/postgresgateway'), {
        method: 'POST',
        headers: { authorization: `Bearer ${project.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ items: [{ credentials: { nonce } }] }),
      }),
    ).rejects.toThrow();
    expect(sandbox.faults.applied).toEqual([{ method: 'POST', path: '/cognite/api/v1/projects/lossy/postgresgateway', fault: 'drop-after' }]);
    const users = await project.get('/postgresgateway');
    expect(users.body.items).toHaveLength(1);
  });

  test('drop before handling: nothing happens', async () => {
    const project = new Cdf(sandbox, cdf.token, 'lossy-before');
    const nonce = await project.nonce();
    sandbox.faults.add({ path: '/cognite/api/v1/projects/lossy-before/postgresgateway', drop: 'before' });
    await expect(project.post('/postgresgateway', { items: [{ credentials: { nonce } }] })).rejects.toThrow();
    expect((await project.get('/postgresgateway')).body.items).toHaveLength(0);
    expect((await project.post('/postgresgateway', { items: [{ credentials: { nonce } }] })).status).toBe(200);
  });
});
