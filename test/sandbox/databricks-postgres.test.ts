/**
 * Lakebase endpoints are real Postgres: a client connects to `status.hosts.host` port 5432 with a
 * generated credential (with or without TLS), branches are copies of their source at the time they
 * were made, credentials expire on the emulator's clock, disabled and deleted endpoints refuse
 * connections, read-only endpoints refuse writes, and a restart brings it all back.
 */
import * as fs from 'node:fs';
import { Client } from 'pg';
import { ManualClock, startSandbox, type Sandbox } from '../../src/sandbox';
import { connectToEndpoint, failure, Workspace } from './databricks-support';
import { tempDataDir } from './support';

let sandbox: Sandbox | undefined;
let dataDir: string;
let ws: Workspace;
const clock = new ManualClock(Date.UTC(2030, 0, 1));
const PROD = 'projects/pg/branches/production';
const PRIMARY = `${PROD}/endpoints/primary`;

async function start(options: Parameters<typeof startSandbox>[0] = {}): Promise<Sandbox> {
  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0, clock, ...options });
  ws = new Workspace(sandbox, sandbox.databricks.token);
  return sandbox;
}

beforeAll(async () => {
  dataDir = tempDataDir('databricks-postgres');
  await start();
  await Workspace.oauth(sandbox!).then((sp) => sp.createProject('pg'));
});

afterAll(async () => {
  await sandbox?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** Connects as the default service principal (the project's creator, so its role exists). */
async function connectAsOwner(endpoint: string, options: Parameters<typeof connectToEndpoint>[2] = {}): Promise<Client> {
  return connectToEndpoint(await Workspace.oauth(sandbox!), endpoint, options);
}

async function rows(client: Client, sql: string): Promise<unknown[]> {
  return (await client.query(sql)).rows;
}

test('a credential logs the service principal in at the endpoint host, port 5432, with or without TLS', async () => {
  const plain = await connectAsOwner(PRIMARY);
  expect(await rows(plain, 'SELECT current_user AS user, current_database() AS db')).toEqual([{ user: sandbox!.databricks.defaultClient.clientId, db: 'databricks_postgres' }]);
  expect(await rows(plain, "SELECT pg_has_role(current_user, 'databricks_superuser', 'MEMBER') AS superuser")).toEqual([{ superuser: true }]);
  await plain.end();

  const secure = await connectAsOwner(PRIMARY, { ssl: { rejectUnauthorized: false } });
  expect((secure as unknown as { connection: { stream: { encrypted?: boolean } } }).connection.stream.encrypted).toBe(true);
  expect(await rows(secure, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
  await secure.end();

  const host = (await ws.get(PRIMARY)).body.status.hosts.host;
  expect(host).toMatch(/^127\./);
  expect(await failure(connectAsOwner(PRIMARY, { password: 'not-the-token' }))).toBe('28P01');
});

test('a branch starts with its source data as it was when it was made; afterwards each goes its own way', async () => {
  const prod = await connectAsOwner(PRIMARY);
  await prod.query('CREATE TABLE items (id int PRIMARY KEY, note text)');
  await prod.query("INSERT INTO items VALUES (1, 'before the branch')");

  await ws.createBranch('pg', 'dev');
  await prod.query("INSERT INTO items VALUES (2, 'after the branch')");
  const dev = await connectAsOwner('projects/pg/branches/dev/endpoints/primary');
  expect(await rows(dev, 'SELECT id FROM items ORDER BY id')).toEqual([{ id: 1 }]);
  await dev.query("INSERT INTO items VALUES (10, 'only on dev')");
  await dev.query('CREATE TABLE dev_only (x int)');

  expect(await rows(prod, 'SELECT id FROM items ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }]);
  expect(await rows(prod, "SELECT to_regclass('dev_only') IS NULL AS absent")).toEqual([{ absent: true }]);
  expect(await rows(dev, 'SELECT id FROM items ORDER BY id')).toEqual([{ id: 1 }, { id: 10 }]);
  await prod.end();
  await dev.end();
});

test('a user connects with their email as the Postgres role once a role exists for them', async () => {
  const email = 'ana.lyst@example.com';
  const ana = new Workspace(sandbox!, await sandbox!.databricks.addToken(email));
  await ws.create(`${PROD}/roles`, 'role_id', 'ana-lyst', { spec: { postgres_role: email, identity_type: 'USER' } });
  const client = await connectToEndpoint(ana, PRIMARY, { user: email });
  expect(await rows(client, 'SELECT current_user AS user')).toEqual([{ user: email }]);
  // A plain role of the branch: it can read nothing it was not granted.
  expect(await failure(client.query('SELECT * FROM items'))).toBe('42501');
  await client.end();
});

test('a credential stops working at its expiry on the emulator clock; open sessions outlive it; a valid token is handed out again', async () => {
  const sp = await Workspace.oauth(sandbox!);
  const { clientId } = sandbox!.databricks.defaultClient;
  const short = await sp.credential(PRIMARY, { ttl: '300s' });
  expect(short.expire_time).toBe(new Date(clock.now() + 300_000).toISOString());
  const session = await connectToEndpoint(sp, PRIMARY, { password: short.token });
  clock.advance(299_000);
  const stillValid = await connectToEndpoint(sp, PRIMARY, { password: short.token });
  await stillValid.end();
  clock.advance(1_000);
  expect(await failure(connectToEndpoint(sp, PRIMARY, { password: short.token }))).toBe('28P01');
  expect(await rows(session, 'SELECT 1 AS alive')).toEqual([{ alive: 1 }]);
  await session.end();

  // A role has one password: a request while its token is valid gets that token again, so every holder logs in.
  const first = await sp.credential(PRIMARY);
  const second = await sp.credential(PRIMARY);
  expect(second).toEqual(first);
  const fresh = await connectToEndpoint(sp, PRIMARY, { password: first.token, user: clientId });
  await fresh.end();

  const bad = async (body: Record<string, unknown>) => (await sp.call('POST', 'credentials', { body })).body;
  expect(await bad({ endpoint: PRIMARY, ttl: '60s' })).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE' });
  expect(await bad({ endpoint: PRIMARY, ttl: '7200s' })).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE' });
  expect(await bad({ endpoint: PRIMARY, expire_time: new Date(clock.now() + 60_000).toISOString() })).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE' });
  expect(await bad({})).toMatchObject({ message: `Field 'endpoint' is required, expected non-default value (not "")!` });
  expect(await bad({ endpoint: `${PROD}/endpoints/nope` })).toMatchObject({ error_code: 'NOT_FOUND', message: expect.stringMatching(/^endpoint id not found/) });
  const withExpireTime = await sp.credential(PRIMARY, { expire_time: new Date(clock.now() + 600_000).toISOString() });
  expect(withExpireTime.expire_time).toBe(new Date(clock.now() + 600_000).toISOString());
});

test('a read-only endpoint serves reads and refuses writes', async () => {
  await ws.create(`${PROD}/endpoints`, 'endpoint_id', 'reader', { spec: { endpoint_type: 'ENDPOINT_TYPE_READ_ONLY' } });
  const reader = await connectAsOwner(`${PROD}/endpoints/reader`, { ssl: { rejectUnauthorized: false } });
  expect(await rows(reader, 'SELECT count(*)::int AS n FROM items')).toEqual([{ n: 2 }]);
  expect(await failure(reader.query("INSERT INTO items VALUES (3, 'no')"))).toBe('25006');
  await reader.end();
});

test('a disabled endpoint refuses connections; a deleted one drops its sessions', async () => {
  const sp = await Workspace.oauth(sandbox!);
  const { token } = await sp.credential(PRIMARY);
  await ws.update(PRIMARY, { spec: { disabled: true } }, 'spec.disabled');
  expect(await failure(connectToEndpoint(sp, PRIMARY, { password: token }))).toBe('ECONNREFUSED');
  await ws.update(PRIMARY, { spec: { disabled: false } }, 'spec.disabled');
  await (await connectToEndpoint(sp, PRIMARY, { password: token })).end();

  const reader = `${PROD}/endpoints/reader`;
  const session = await connectToEndpoint(sp, reader, { password: token });
  const dropped = new Promise((resolve) => session.once('end', resolve));
  await ws.delete(reader);
  await dropped;
  expect(await failure(session.query('SELECT 1'))).toBeDefined();
});

test('a restart over the same data directory brings back the endpoints, their data and issued credentials; stop closes them', async () => {
  const sp = await Workspace.oauth(sandbox!);
  const { token } = await sp.credential('projects/pg/branches/dev/endpoints/primary');
  const hosts = { prod: (await ws.get(PRIMARY)).body.status.hosts.host, dev: (await ws.get('projects/pg/branches/dev/endpoints/primary')).body.status.hosts.host };
  // An operation still running when the sandbox stops can be polled by name after the restart.
  sandbox!.databricks.setOperationDelay('database', 5_000);
  const pending = await sp.call('POST', `${PROD}/databases`, { query: { database_id: 'kept-db' }, body: { spec: { postgres_database: 'kept', role: `${PROD}/roles/sp-${sandbox!.databricks.defaultClient.clientId}` } } });
  expect(pending.body.done).toBe(false);
  const cluster = await sandbox!.databricks.branchSuperuser(PROD);
  await sandbox!.stop();
  const { clientId } = sandbox!.databricks.defaultClient;
  expect(await failure(connectToEndpoint(sp, 'projects/pg/branches/dev/endpoints/primary', { password: token }))).toBeDefined();
  // Stopping the sandbox stops the branches' Postgres too.
  expect(await failure(new Client({ ...cluster, database: 'postgres' }).connect())).toBe('ECONNREFUSED');

  const startedAt = Date.now();
  // Database operations still take 5 s after the restart, so the one above is still running.
  await start({ databricksOperationDelays: { database: 5_000 } });
  const startMs = Date.now() - startedAt;
  expect(startMs).toBeLessThan(15_000);
  expect(sandbox!.databricks.defaultClient.clientId).toBe(clientId);
  const again = await Workspace.oauth(sandbox!);
  expect((await again.get(pending.body.name)).body.done).toBe(false);
  clock.advance(5_000);
  expect((await again.wait(pending)).status).toMatchObject({ database_id: 'kept-db', postgres_database: 'kept' });
  expect((await again.get(PRIMARY)).body.status.hosts.host).toBe(hosts.prod);
  // The computes wake on the first connection.
  expect((await again.get(PRIMARY)).body.status.current_state).toBe('IDLE');
  const dev = await connectToEndpoint(again, 'projects/pg/branches/dev/endpoints/primary', { password: token });
  expect(await rows(dev, 'SELECT id FROM items ORDER BY id')).toEqual([{ id: 1 }, { id: 10 }]);
  await dev.end();
  expect((await again.get('projects/pg/branches/dev/endpoints/primary')).body.status.current_state).toBe('ACTIVE');
  const prod = await connectToEndpoint(again, PRIMARY);
  expect(await rows(prod, 'SELECT count(*)::int AS n FROM items')).toEqual([{ n: 2 }]);
  await prod.end();
});
