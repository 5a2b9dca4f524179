/**
 * The Atlan Postgres crawler through the lifecycle engine against the sandbox's Atlan emulator,
 * which really crawls a database in the sandbox's Postgres: one workflow, credential and
 * connection per crawler for its life; nothing submitted when nothing changed; updates in place;
 * runs awaited, failures reported with Atlan's message, a run past the deadline resumed; 429s
 * waited out; a submit answered 5xx after it took effect not sent twice; both workflow APIs.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { EngineHarness } from '../support/engine';
import { API_KEY_VARIABLE, Atlan, PASSWORD_VARIABLE, assetNames, atlanCalls, crawlerSpec, createSource, holdings, submits } from '../support/atlan';

let sandbox: Sandbox;
let dataDir: string;
let atlan: Atlan;
let h: EngineHarness;

const PASSWORD = 'crawler-secret-pw';

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-atlan-'));
  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0, atlanRunPendingSeconds: 0, atlanRunSeconds: 0.3 });
  atlan = new Atlan(sandbox);
  await createSource(
    sandbox,
    'shop',
    `CREATE ROLE crawler LOGIN PASSWORD '${PASSWORD}';
     GRANT CONNECT ON DATABASE shop TO crawler;
     CREATE SCHEMA sales; CREATE SCHEMA hr; CREATE SCHEMA staging;
     CREATE TABLE sales.orders (id bigint PRIMARY KEY, total numeric(10, 2));
     CREATE TABLE sales."orders_TEST" (id int);
     CREATE TABLE hr.people (id int, name text);
     CREATE TABLE staging.raw (payload jsonb);
     GRANT USAGE ON SCHEMA sales, hr, staging TO crawler;
     GRANT SELECT ON ALL TABLES IN SCHEMA sales, hr, staging TO crawler;`,
  );
}, 60_000);
afterAll(async () => {
  await sandbox?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});
beforeEach(() => {
  h = new EngineHarness();
  h.env = { [API_KEY_VARIABLE]: sandbox.atlan.apiKey, [PASSWORD_VARIABLE]: PASSWORD };
  sandbox.faults.clear();
  sandbox.atlan.clearFailures();
  sandbox.atlan.configure({ apis: 'both', runPendingSeconds: 0, runSeconds: 0.3 });
  sandbox.requests.length = 0;
});
afterEach(() => h.cleanup());

const crawler = (id: string, connectionName: string, props: Record<string, unknown> = {}, options = {}) =>
  crawlerSpec(sandbox, id, { connectionName, database: 'shop', username: 'crawler', ...props }, options);

const outputs = async (id: string) => (await h.record(id))!.outputs as Record<string, string>;

describe.each(['workflow', 'app'] as const)('on a tenant that serves only the %s API (detected)', (api) => {
  beforeEach(() => sandbox.atlan.configure({ apis: api }));

  test('create crawls once; an unchanged apply submits nothing; a changed include updates in place and reruns; destroy archives and purges', async () => {
    const name = `shop-${api}`;
    const spec = (include: Record<string, string[]>) => crawler('crawler', name, { include, exclude: { shop: ['hr'] }, excludeRegex: '.*_TEST' });
    await h.apply(spec({ shop: ['sales', 'hr'] }));

    const created = await outputs('crawler');
    expect(created).toMatchObject({ api, connectionQualifiedName: expect.stringMatching(/^default\/postgres\/\d{10}$/), lastRunPhase: 'Succeeded', credentialGuid: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(created.workflowName).toMatch(api === 'workflow' ? /^atlan-postgres-\d{10}$/ : new RegExp(`^${name}-[0-9a-f]{8}$`));
    const held = await holdings(atlan, name);
    expect(held).toEqual({ workflows: api === 'workflow' ? [created.workflowName] : [], apps: api === 'app' ? [created.workflowName] : [], connections: [created.connectionQualifiedName] });
    expect(submits(sandbox)).toHaveLength(api === 'workflow' ? 1 : 1);
    const qn = created.connectionQualifiedName;
    expect(await assetNames(atlan, qn, 'Schema')).toEqual(['shop/sales']);
    expect(await assetNames(atlan, qn, 'Table')).toEqual(['shop/sales/orders']);
    const credential = await atlan.ok('GET', `/api/service/credentials/${created.credentialGuid}`);
    expect(credential).toMatchObject({ host: '127.0.0.1', port: sandbox.postgres.port, username: 'crawler', authType: 'basic', extra: { database: 'shop' } });
    expect(h.log).not.toContain(PASSWORD);

    // Unchanged: reads only.
    sandbox.requests.length = 0;
    const plan = await h.apply(spec({ shop: ['sales', 'hr'] }));
    expect(plan.resources.find((r) => r.id === 'crawler')?.action).toBe('no-op');
    expect(atlanCalls(sandbox).filter((c) => !/^(GET|POST \/api\/(service\/(workflows|runs)|meta\/search)\/indexsearch )/.test(c))).toEqual([]);
    expect(submits(sandbox)).toEqual([]);

    // A wider include: the same workflow and connection, one new run, the new schema crawled.
    sandbox.requests.length = 0;
    await h.apply(spec({ shop: ['sales', 'hr', 'staging'] }));
    const updated = await outputs('crawler');
    expect(updated).toMatchObject({ workflowName: created.workflowName, connectionQualifiedName: qn, credentialGuid: created.credentialGuid, lastRunPhase: 'Succeeded' });
    expect(updated.lastRunId).not.toBe(created.lastRunId);
    expect(submits(sandbox)).toEqual([api === 'workflow' ? 'POST /api/service/workflows/submit 200' : `POST /api/service/v1/app/${created.workflowName}/submit 200`]);
    expect(await assetNames(atlan, qn, 'Schema')).toEqual(['shop/sales', 'shop/staging']);
    expect(await assetNames(atlan, qn, 'Table')).toEqual(['shop/sales/orders', 'shop/staging/raw']);
    expect(await holdings(atlan, name)).toEqual(held);

    await h.destroy();
    expect(await holdings(atlan, name)).toEqual({ workflows: [], apps: [], connections: [qn] });
    expect((await atlan.get(`/api/service/credentials/${created.credentialGuid}`)).status).toBe(404);
  });

  test('a run that outlives the deadline fails naming the run; the next apply resumes waiting for it instead of submitting again', async () => {
    const name = `slow-${api}`;
    sandbox.atlan.configure({ runSeconds: 4 });
    await expect(h.apply(crawler('slow', name, {}, { timeoutSeconds: 2 }))).rejects.toThrow(
      new RegExp(`gave up waiting for the crawl of connection '${name}' after \\ds: the deadline passed; operation ${api === 'workflow' ? 'atlan-postgres-\\d{10}-[a-z0-9]{5}' : '[0-9a-f-]{36}'} may still finish`),
    );
    const runId = /operation (\S+) may still finish/.exec(h.log)![1];
    sandbox.atlan.configure({ runSeconds: 0.3 });
    sandbox.requests.length = 0;
    await h.apply(crawler('slow', name));
    expect(submits(sandbox)).toEqual([]);
    expect(h.log).toContain(`run ${runId} is Running: waiting for it rather than starting another`);
    expect(await outputs('slow')).toMatchObject({ lastRunId: runId, lastRunPhase: 'Succeeded' });
    expect((await holdings(atlan, name)).connections).toHaveLength(1);
    expect([...(await holdings(atlan, name)).workflows, ...(await holdings(atlan, name)).apps]).toHaveLength(1);
    await h.destroy();
  });

  test('a 5xx after the tenant took the create is not sent again: one workflow, its run awaited', async () => {
    const name = `flaky-${api}`;
    sandbox.atlan.failAfterCommit({ method: 'POST', path: api === 'workflow' ? '/api/service/workflows' : '/api/service/v1/app', status: 502 });
    await h.apply(crawler('flaky', name));
    const creates = atlanCalls(sandbox).filter((c) => (api === 'workflow' ? c.startsWith('POST /api/service/workflows?') : /^POST \/api\/service\/v1\/app /.test(c)));
    expect(creates).toEqual([api === 'workflow' ? 'POST /api/service/workflows?submit=true 502' : 'POST /api/service/v1/app 502']);
    const held = await holdings(atlan, name);
    expect(held.workflows.length + held.apps.length).toBe(1);
    expect(held.connections).toHaveLength(1);
    expect(await outputs('flaky')).toMatchObject({ lastRunPhase: 'Succeeded' });
    expect(h.log).toMatch(/answered .*502.*; looking for what it made before anything else/);
    await h.destroy();
  });
});

describe('runs', () => {
  test("a failed run fails the deploy with Atlan's message; fixing the password reruns the same workflow", async () => {
    h.env[PASSWORD_VARIABLE] = 'not-the-password';
    await expect(h.apply(crawler('bad', 'bad-password', {}, {}))).rejects.toThrow(
      /bad \(atlan:postgres-crawler\): create failed: the crawl of connection 'bad-password' failed: Unable to connect to PostgreSQL at 127\.0\.0\.1:\d+: authentication failed for user 'crawler' .*\(Failed\) \(operation [\w-]+\)/,
    );
    expect(h.log).not.toContain('not-the-password');
    const [workflow] = (await holdings(atlan, 'bad-password')).apps.concat((await holdings(atlan, 'bad-password')).workflows);

    h.env[PASSWORD_VARIABLE] = PASSWORD;
    sandbox.requests.length = 0;
    await h.apply(crawler('bad', 'bad-password'));
    expect(await outputs('bad')).toMatchObject({ workflowName: workflow, lastRunPhase: 'Succeeded' });
    expect(submits(sandbox)).toHaveLength(1);
    expect(submits(sandbox)[0]).toMatch(/\/submit 200$/);
    const held = await holdings(atlan, 'bad-password');
    expect(held.apps.length + held.workflows.length).toBe(1);
    expect(held.connections).toHaveLength(1);
    await h.destroy();
  });

  test('a crawler removed after its create failed is found and archived, not updated or run again', async () => {
    h.env[PASSWORD_VARIABLE] = 'not-the-password';
    await expect(h.apply(crawler('gone', 'failed-then-removed', {}, {}))).rejects.toThrow(/create failed/);
    expect((await holdings(atlan, 'failed-then-removed')).apps.length + (await holdings(atlan, 'failed-then-removed')).workflows.length).toBe(1);
    sandbox.requests.length = 0;
    await h.remove('gone');
    expect(submits(sandbox)).toEqual([]);
    const held = await holdings(atlan, 'failed-then-removed');
    expect(held.apps.length + held.workflows.length).toBe(0);
    expect(await h.record('gone')).toBeUndefined();
  });

  test("an update's run past the deadline is resumed by the next apply: no second rerun", async () => {
    const spec = (include: Record<string, string[]>, options = {}) => crawler('resume', 'resume-update', { api: 'workflow', include }, options);
    await h.apply(spec({ shop: ['sales'] }));
    sandbox.atlan.configure({ runSeconds: 3 });
    await expect(h.apply(spec({ shop: ['sales', 'hr'] }, { timeoutSeconds: 1 }))).rejects.toThrow(/update timed out after 1\.0s: gave up waiting for the crawl of connection 'resume-update'/);
    const runId = /operation (\S+) may still finish/.exec(h.log)![1];
    sandbox.requests.length = 0;
    await h.apply(spec({ shop: ['sales', 'hr'] }));
    expect(submits(sandbox)).toEqual([]);
    expect(await outputs('resume')).toMatchObject({ lastRunId: runId, lastRunPhase: 'Succeeded' });
    expect(await assetNames(atlan, (await outputs('resume')).connectionQualifiedName, 'Schema')).toEqual(['shop/hr', 'shop/sales']);
    await h.destroy();
  });

  test('a changed password rotates the credential in place and reruns', async () => {
    await h.apply(crawler('rotate', 'rotate', { api: 'workflow' }));
    const before = await outputs('rotate');
    await sandbox.atlan.progressRuns();
    h.env[PASSWORD_VARIABLE] = 'wrong-now';
    sandbox.requests.length = 0;
    await expect(h.apply(crawler('rotate', 'rotate', { api: 'workflow' }))).rejects.toThrow(/authentication failed/);
    expect(atlanCalls(sandbox)).toContain(`POST /api/service/credentials/${before.credentialGuid} 200`);
    h.env[PASSWORD_VARIABLE] = PASSWORD;
    await h.apply(crawler('rotate', 'rotate', { api: 'workflow' }));
    expect(await outputs('rotate')).toMatchObject({ credentialGuid: before.credentialGuid, workflowName: before.workflowName, lastRunPhase: 'Succeeded' });
    await h.destroy();
  });

  test("runOnDeploy 'always' runs on every apply but never beside an active run; 'never' submits nothing", async () => {
    await h.apply(crawler('always', 'always', { runOnDeploy: 'always', api: 'workflow' }));
    sandbox.requests.length = 0;
    await h.apply(crawler('always', 'always', { runOnDeploy: 'always', api: 'workflow' }));
    expect(submits(sandbox)).toEqual(['POST /api/service/workflows/submit 200']);

    // A run started elsewhere (a schedule, the UI) is awaited, not doubled.
    const { workflowName } = await outputs('always');
    sandbox.atlan.configure({ runSeconds: 1 });
    const manual = await atlan.ok('POST', '/api/service/workflows/submit', { namespace: 'default', resourceKind: 'WorkflowTemplate', resourceName: workflowName });
    sandbox.requests.length = 0;
    await h.apply(crawler('always', 'always', { runOnDeploy: 'always', api: 'workflow' }));
    expect(submits(sandbox)).toEqual([]);
    expect(h.log).toContain(`run ${manual.metadata.name} is Running with the current settings: not starting another; waiting for it`);
    expect(await outputs('always')).toMatchObject({ lastRunId: manual.metadata.name, lastRunPhase: 'Succeeded' });
    await h.destroy();
    h.declared.clear();

    sandbox.requests.length = 0;
    await h.apply(crawler('never', 'never', { runOnDeploy: 'never' }));
    expect(submits(sandbox)).toEqual(['POST /api/service/v1/app 200']);
    expect(await outputs('never')).toMatchObject({ lastRunId: '', lastRunPhase: '' });
    await h.apply(crawler('never', 'never', { runOnDeploy: 'never', rowLimit: 5 }));
    expect(submits(sandbox)).toEqual(['POST /api/service/v1/app 200']);
    await h.destroy();
  });
});

describe('the tenant', () => {
  test('a 429 with Retry-After is waited out and the create sent again', async () => {
    sandbox.faults.add({ method: 'POST', path: '/api/service/workflows', status: 429, retryAfterSeconds: 1 });
    const started = Date.now();
    await h.apply(crawler('limited', 'limited', { api: 'workflow' }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(atlanCalls(sandbox).filter((c) => c.startsWith('POST /api/service/workflows?'))).toEqual(['POST /api/service/workflows?submit=true 429', 'POST /api/service/workflows?submit=true 200']);
    expect(h.log).toMatch(/POST \/api\/service\/workflows answered HTTP 429; retry 1 in 1\.0s/);
    expect((await holdings(atlan, 'limited')).workflows).toHaveLength(1);
    await h.destroy();
  });

  test('auto prefers the App API where served; offline extraction from S3 goes to the legacy one', async () => {
    await h.apply(crawler('auto', 'auto-both'));
    expect(await outputs('auto')).toMatchObject({ api: 'app' });
    const s3 = crawlerSpec(sandbox, 's3', { connectionName: 'offline', database: 'shop', username: 'crawler', runOnDeploy: 'never' });
    (s3.props as any).source = { extraction: 's3', bucket: 'metadata', prefix: 'pg/prod' };
    await h.apply(s3);
    expect(await outputs('s3')).toMatchObject({ api: 'workflow', credentialGuid: '' });
    await h.destroy();
  });

  test('a sub-role API key creates through package-workflows', async () => {
    const member = await sandbox.atlan.addApiKey({ roles: ['$member'] });
    h.env[API_KEY_VARIABLE] = member.token;
    await h.apply(crawler('member', 'member', { api: 'workflow', admins: { users: [member.username] } }));
    expect(submits(sandbox)).toEqual(['POST /api/service/package-workflows?submit=true 200']);
    await h.destroy();
    expect(atlanCalls(sandbox).some((c) => /^POST \/api\/service\/package-workflows\/atlan-postgres-\d+\/archive 200$/.test(c))).toBe(true);
  });

  test('admins: unknown names are refused naming what the tenant has; groups by alias, users by name', async () => {
    await expect(h.apply(crawler('admins', 'admins', { admins: { roles: ['$superuser'] } }))).rejects.toThrow(/Atlan has no workspace role '\$superuser' \(it has \$admin, \$member, \$guest, \$api-token-default-access\)/);
    h.declared.clear();
    await h.apply(crawler('admins', 'admins', { admins: { groups: ['Admins'], users: ['jdoe'] }, runOnDeploy: 'never' }));
    const [slug] = (await holdings(atlan, 'admins')).apps;
    const app = await atlan.ok('GET', `/api/service/v1/app/${slug}`);
    expect(app.inputs.connection.attributes).toMatchObject({ adminGroups: ['admins'], adminUsers: ['jdoe'], adminRoles: [] });
    await h.destroy();
  });

  test('a crawler for the connection made outside the stack is refused with the import command', async () => {
    await h.apply(crawler('first', 'taken', { runOnDeploy: 'never' }));
    const other = new EngineHarness();
    other.env = h.env;
    try {
      await expect(other.apply(crawler('second', 'taken'))).rejects.toThrow(/Atlan already has a Postgres crawler for connection 'taken' \(App workflow 'taken' \(taken-[0-9a-f]{8}\)\).*pgstacks state import test second taken-[0-9a-f]{8}/);
    } finally {
      other.cleanup();
    }
    await h.destroy();
  });
});

describe('removal', () => {
  test('with deleteConnection the connection and its assets are deleted too; a crawler declared again crawls into a kept connection', async () => {
    await h.apply(crawler('keep', 'kept', { api: 'workflow' }));
    const first = await outputs('keep');
    await h.remove('keep');
    expect((await holdings(atlan, 'kept')).connections).toEqual([first.connectionQualifiedName]);

    // Declared again: the kept connection (and its assets) is reused, not duplicated.
    await h.apply(crawler('keep', 'kept', { api: 'workflow', deleteConnection: true }));
    const second = await outputs('keep');
    expect(second.connectionQualifiedName).toBe(first.connectionQualifiedName);
    expect((await holdings(atlan, 'kept')).workflows).toEqual([second.workflowName]);
    expect(h.log).toContain(`crawling into the existing connection ${first.connectionQualifiedName}`);

    await h.destroy();
    expect(await holdings(atlan, 'kept')).toEqual({ workflows: [], apps: [], connections: [] });
    expect(await atlan.assets(first.connectionQualifiedName, 'Table')).toEqual([]);
    expect((await atlan.assets(first.connectionQualifiedName, 'Table', 'DELETED')).length).toBeGreaterThan(0);
    expect(h.log).toMatch(/deleted connection default\/postgres\/\d+ and its assets/);
  });
});
