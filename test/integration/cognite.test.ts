/**
 * The Cognite handlers through the lifecycle engine against the sandbox: real HTTP, real Postgres
 * logins, RAW rows, faults.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CogniteClient } from '../../src/clients/cognite';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { cdfGet, connectAs, gatewayUsers, rawTableSpec, SECRET_ENV, userSpec } from '../support/cognite';
import { EngineHarness } from '../support/engine';

let sandbox: Sandbox;
let dataDir: string;
let h: EngineHarness;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-cognite-'));
  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0, cogniteProjects: ['acme', 'login', 'noop', 'preflight', 'rotate', 'lost', 'crash', 'fivexx', 'busy', 'gone'] });
});
afterAll(async () => {
  await sandbox.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});
beforeEach(() => {
  h = new EngineHarness();
  h.env = { [SECRET_ENV]: sandbox.cognite.defaultClient.clientSecret };
  sandbox.faults.clear();
});
afterEach(() => h.cleanup());

async function password(id = 'user'): Promise<string> {
  return (await h.secrets(id)).password;
}

describe('gateway user', () => {
  test('is created at deploy and can log in; the password is a secret output only', async () => {
    const project = 'login';
    await h.apply(userSpec(sandbox, 'user', undefined, project));
    const record = await h.record('user');
    const { username, host, port, database, sessionId } = record!.outputs as Record<string, string & number>;
    expect(username).toMatch(/^[a-z0-9_]+$/);
    expect({ host, port, database }).toEqual({ host: sandbox.postgres.host, port: sandbox.postgres.port, database: username });
    expect(sessionId).toBeGreaterThan(0);
    expect(await gatewayUsers(sandbox, project)).toEqual([expect.objectContaining({ username, sessionId })]);
    const pass = await password();
    const db = await connectAs(sandbox, username, pass);
    expect((await db.query('select current_user')).rows[0].current_user).toBe(username);
    await db.end();
    expect(h.lines.join('\n')).not.toContain(pass);
    expect(JSON.stringify(record?.outputs)).not.toContain(pass);
  });

  test('re-apply without change makes no write call and keeps the session', async () => {
    await h.apply(userSpec(sandbox, 'user', undefined, 'noop'));
    const before = await gatewayUsers(sandbox, 'noop');
    sandbox.faults.add({ method: 'POST', path: /\/(postgresgateway|sessions)(\/(update|delete|revoke))?$/, status: 500, times: 100 });
    await h.apply(userSpec(sandbox, 'user', undefined, 'noop'));
    expect(sandbox.faults.applied).toEqual([]);
    expect(await gatewayUsers(sandbox, 'noop')).toEqual(before);
    expect(h.lines.at(-2)).toContain('is up to date');
  });

  test('the preflight lists every missing capability by name', async () => {
    await sandbox.cognite.addClient({
      clientId: 'weak',
      clientSecret: 'weak-secret',
      capabilities: [{ postgresGatewayAcl: { actions: ['READ'], scope: { all: {} } }, projectScope: { allProjects: {} } }],
    });
    h.env.WEAK_SECRET = 'weak-secret';
    const weak = userSpec(sandbox, 'user', undefined, 'preflight');
    (weak.props.project as Record<string, unknown>).credentials = { clientId: 'weak', clientSecret: { $secret: { fromEnv: 'WEAK_SECRET' } } };
    (weak.props as Record<string, unknown>).session = (weak.props.project as Record<string, unknown>).credentials;
    await expect(h.apply(weak)).rejects.toThrow(
      "missing CDF capabilities in project 'preflight': client 'weak' lacks postgresGateway:WRITE, session:CREATE, project:list, groups:list",
    );
    expect(await gatewayUsers(sandbox, 'preflight')).toEqual([]);
  });

  test('changed session credentials rotate the session in place: same username, same password', async () => {
    await sandbox.cognite.addClient({ clientId: 'etl-app', clientSecret: 'etl-secret-1' });
    h.env.ETL_SECRET = 'etl-secret-1';
    await h.apply(userSpec(sandbox, 'user', undefined, 'rotate'));
    const { username, sessionId } = (await h.record('user'))!.outputs;
    await h.apply(userSpec(sandbox, 'user', { clientId: 'etl-app', secretEnv: 'ETL_SECRET' }, 'rotate'));
    const after = (await h.record('user'))!.outputs;
    expect(after.username).toBe(username);
    expect(after.sessionId).not.toBe(sessionId);
    expect(await gatewayUsers(sandbox, 'rotate')).toEqual([expect.objectContaining({ username, sessionId: after.sessionId })]);
    expect(h.lines.join('\n')).toMatch(/updated cognite:gateway-user \w+ in place \(session\.clientId, session\.clientSecret\)/);
    await (await connectAs(sandbox, username as string, await password())).end();

    // The secret's value alone changes (same variable): the next apply rotates again.
    await sandbox.cognite.addClient({ clientId: 'etl-app', clientSecret: 'etl-secret-2' });
    h.env.ETL_SECRET = 'etl-secret-2';
    await h.apply(userSpec(sandbox, 'user', { clientId: 'etl-app', secretEnv: 'ETL_SECRET' }, 'rotate'));
    expect((await h.record('user'))!.outputs.sessionId).not.toBe(after.sessionId);
    expect(h.log).toContain('in place (session.clientSecret)');
  });

  test('a lost create response leaves exactly one user', async () => {
    sandbox.faults.add({ method: 'POST', path: '/cognite/api/v1/projects/lost/postgresgateway', drop: 'after' });
    await h.apply(userSpec(sandbox, 'user', undefined, 'lost'));
    expect(sandbox.faults.applied).toEqual([expect.objectContaining({ fault: expect.stringContaining('drop') })]);
    const users = await gatewayUsers(sandbox, 'lost');
    expect(users).toHaveLength(1);
    expect((await h.record('user'))?.outputs.username).toBe(users[0].username);
    expect(h.lines.join('\n')).toContain('made by an interrupted create whose password was never returned');
    await (await connectAs(sandbox, users[0].username, await password())).end();
  });

  test('a crash after the create is recovered by the recorded session id, never leaving two users', async () => {
    // What a handler killed after CDF made the user leaves: the intent record with the session id
    // it checkpointed, and a user whose password nobody saw.
    const crashed = userSpec(sandbox, 'user', undefined, 'crash');
    const cdf = new CogniteClient({
      baseUrl: sandbox.cognite.baseUrl, project: 'crash', tokenUrl: sandbox.cognite.tokenUrl, scopes: ['x'], credentials: sandbox.cognite.defaultClient,
    });
    const session = await cdf.createSession(sandbox.cognite.defaultClient);
    const orphan = await cdf.createGatewayUser(session.nonce);
    await h.store.put({
      stack: 'test', id: 'user', type: crashed.type, status: 'creating', spec: crashed, props: crashed.props, outputs: {},
      dependencies: [], createdAt: '', updatedAt: '', handlerVersion: 'test', checkpoint: { sessionId: session.id },
    });

    await h.apply(crashed);
    const users = await gatewayUsers(sandbox, 'crash');
    expect(users).toHaveLength(1);
    expect(users[0].username).not.toBe(orphan.username);
    expect(await h.record('user')).toMatchObject({ status: 'ready', physicalId: users[0].username });
    expect(h.lines.join('\n')).toContain(`deleted gateway user ${orphan.username}, made by an interrupted create`);
  });

  test('user create is not retried on 5xx (it could duplicate); the error carries status, message and request id', async () => {
    sandbox.faults.add({ method: 'POST', path: '/cognite/api/v1/projects/fivexx/postgresgateway', status: 503 });
    const error = (await h.apply(userSpec(sandbox, 'user', undefined, 'fivexx')).catch((e) => e)) as Error;
    expect(error.message).toMatch(/create failed: POST \/cognite\/api\/v1\/projects\/fivexx\/postgresgateway: CDF answered 503: .+ \[request id [\w-]+\]/);
    expect(await gatewayUsers(sandbox, 'fivexx')).toEqual([]);
  });

  test('429 with Retry-After is retried, also for user create', async () => {
    // One real 1 s wait: through the engine, the client's timing is the real one.
    sandbox.faults.add({ method: 'POST', path: '/cognite/api/v1/projects/busy/postgresgateway', status: 429, retryAfterSeconds: 1, times: 1 });
    const started = Date.now();
    await h.apply(userSpec(sandbox, 'user', undefined, 'busy'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(sandbox.faults.applied).toHaveLength(1);
    expect(await gatewayUsers(sandbox, 'busy')).toHaveLength(1);
    expect(h.lines.join('\n')).toMatch(/POST \/cognite\/api\/v1\/projects\/busy\/postgresgateway answered HTTP 429; retry 1 in 1\.0s/);
  });

  test('delete removes the user, its database and its session, and is idempotent', async () => {
    const s = userSpec(sandbox, 'user', undefined, 'gone');
    await h.apply(s);
    const { username } = (await h.record('user'))!.outputs as { username: string };
    const pass = await password();
    await h.remove('user');
    expect(await gatewayUsers(sandbox, 'gone')).toEqual([]);
    await expect(connectAs(sandbox, username, pass)).rejects.toThrow();
    await h.destroy();
  });
});

describe('gateway raw table', () => {
  test('rows inserted by the gateway user land in RAW, keyed by the primary key', async () => {
    await h.apply(userSpec(sandbox));
    await h.apply(rawTableSpec(sandbox, 'user'));
    const { username } = (await h.record('user'))!.outputs as { username: string };
    expect((await h.record('pumps'))?.physicalId).toBe(`${username}/pumps`);
    const db = await connectAs(sandbox, username, await password());
    await db.query(`INSERT INTO pumps (id, pressure) VALUES ('p-1', 4.2), ('p-2', 1.5)`);
    await db.query(`INSERT INTO pumps (id, pressure) VALUES ('p-1', 5.0)`);
    await db.end();
    const rows = (await cdfGet(sandbox, '/raw/dbs/ingest/tables/pumps/rows')).items;
    expect(rows.map((r: { key: string; columns: object }) => [r.key, r.columns]).sort()).toEqual([
      ['p-1', { pressure: 5 }],
      ['p-2', { pressure: 1.5 }],
    ]);
  });

  test('a definition change drops and recreates the table; a credentials change does not touch it', async () => {
    await h.apply(userSpec(sandbox));
    await h.apply(rawTableSpec(sandbox, 'user'));
    const { username } = (await h.record('user'))!.outputs as { username: string };
    await h.apply(rawTableSpec(sandbox, 'user', { columns: [{ name: 'id', type: 'TEXT' }, { name: 'pressure', type: 'REAL' }, { name: 'note', type: 'JSON' }] }));
    const tables = (await cdfGet(sandbox, `/postgresgateway/tables/${username}`)).items;
    expect(tables).toEqual([expect.objectContaining({ tablename: 'pumps', columns: expect.objectContaining({ note: { type: 'JSON' } }) })]);
    expect(h.log).toMatch(/pumps: replaced \(columns\.1\.type, columns\.2\.name, columns\.2\.type changed\)/);

    await sandbox.cognite.addClient({ clientId: 'other-deployer', clientSecret: 'od' });
    h.env.OD_SECRET = 'od';
    const moved = rawTableSpec(sandbox, 'user', { columns: [{ name: 'id', type: 'TEXT' }, { name: 'pressure', type: 'REAL' }, { name: 'note', type: 'JSON' }] });
    (moved.props.project as Record<string, unknown>).credentials = { clientId: 'other-deployer', clientSecret: { $secret: { fromEnv: 'OD_SECRET' } } };
    // Any table create or delete would now fail, and be listed in faults.applied.
    sandbox.faults.add({ method: 'POST', path: /\/tables\/[^/]+(\/delete)?$/, status: 500, times: 100 });
    await h.apply(moved);
    expect(sandbox.faults.applied).toEqual([]);
    expect(h.log).toMatch(/pumps: updated cognite:gateway-raw-table .* in place \(project\.credentials\.clientId, project\.credentials\.clientSecret\)/);
  });

  test('a table create hit by 503 is retried', async () => {
    await h.apply(userSpec(sandbox));
    const { username } = (await h.record('user'))!.outputs as { username: string };
    sandbox.faults.add({ method: 'POST', path: `/cognite/api/v1/projects/acme/postgresgateway/tables/${username}`, status: 503, times: 2 });
    await h.apply(rawTableSpec(sandbox, 'user'));
    expect(sandbox.faults.applied).toHaveLength(2);
    expect((await cdfGet(sandbox, `/postgresgateway/tables/${username}`)).items.map((t: { tablename: string }) => t.tablename)).toEqual(['pumps']);
  });

  test("one user's tables share requests, ten to a call; a table made elsewhere with another definition fails alone", async () => {
    const user = userSpec(sandbox, 'user', undefined, 'busy');
    await h.apply(user);
    const { username } = (await h.record('user'))!.outputs as { username: string };
    const cdf = new CogniteClient({
      baseUrl: sandbox.cognite.baseUrl, project: 'busy', tokenUrl: sandbox.cognite.tokenUrl, scopes: ['x'], credentials: sandbox.cognite.defaultClient,
    });
    await cdf.createGatewayTables(username, [{ type: 'raw_rows', tablename: 't7', options: { database: 'elsewhere', table: 't7' }, columns: { id: { type: 'TEXT' } } }]);
    const tables = Array.from({ length: 23 }, (_, i) => {
      const table = rawTableSpec(sandbox, 'user', { tablename: `t${i}`, rawTable: `t${i}` });
      (table.props.project as Record<string, unknown>).project = 'busy';
      return { ...table, id: `t${i}` };
    });
    const calls = (suffix: string) => sandbox.requests.filter((r) => r.method === 'POST' && r.path.endsWith(`/postgresgateway/tables/${username}${suffix}`)).length;

    sandbox.requests.length = 0;
    await expect(h.reconcile([user, ...tables])).rejects.toThrow(/1 of 24 resources were not applied:\n {2}t7: .*already has a table named 't7' with another definition/);
    const listed = (await cdfGet(sandbox, `/postgresgateway/tables/${username}`, 'busy')).items as Array<{ tablename: string; options: { database: string } }>;
    expect(listed).toHaveLength(23);
    expect(listed.find((t) => t.tablename === 't7')?.options.database).toBe('elsewhere');
    // 23 tables in 3 shared calls; the one holding t7 is refused whole, and made again a table at a time.
    expect(calls('')).toBeLessThanOrEqual(3 + 10);

    sandbox.requests.length = 0;
    await h.reconcile([user, ...tables.filter((t) => t.id !== 't7')]);
    // 22 tables read in 3 calls; t7's unfinished record (no longer declared) looks for its table once.
    expect(calls('/byids')).toBeLessThanOrEqual(4);
    expect(calls('')).toBe(0);
    expect(calls('/delete')).toBe(0);

    sandbox.requests.length = 0;
    await h.reconcile([user]);
    expect(calls('/delete')).toBeLessThanOrEqual(3);
    expect((await cdfGet(sandbox, `/postgresgateway/tables/${username}`, 'busy')).items.map((t: { tablename: string }) => t.tablename)).toEqual(['t7']);
  });

  test('deleting a table whose user is gone is not an error', async () => {
    await h.apply(userSpec(sandbox));
    const table = rawTableSpec(sandbox, 'user');
    await h.apply(table);
    const { username } = (await h.record('user'))!.outputs as { username: string };
    const cdf = new CogniteClient({
      baseUrl: sandbox.cognite.baseUrl, project: 'acme', tokenUrl: sandbox.cognite.tokenUrl, scopes: ['x'], credentials: sandbox.cognite.defaultClient,
    });
    await cdf.deleteGatewayUser(username);
    await h.remove('pumps');
    expect(await h.record('pumps')).toBeUndefined();
  });
});
