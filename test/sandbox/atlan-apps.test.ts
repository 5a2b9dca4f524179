/**
 * The Atlan emulator's App API (`postgres-crawler`), as pyatlan's AppClient and its
 * PostgresCrawler builder call it: discovery, create (with a raw credential stored server-side),
 * the duplicate-name 409 that carries the existing slug, list by name, update without the
 * credential, one active run per workflow, cancel, schedules, delete; and the tenant setting that
 * decides which of the two workflow APIs answers, so a client's detection can be tested.
 */
import * as fs from 'node:fs';
import { ManualClock, startSandbox, type Sandbox } from '../../src/sandbox';
import { Atlan, createSource, findByType, postgresWorkflow } from './atlan-support';
import { tempDataDir } from './support';

let dataDir: string;
let sandbox: Sandbox;
let atlan: Atlan;
const clock = new ManualClock(Date.UTC(2031, 0, 1));

beforeAll(async () => {
  dataDir = tempDataDir('atlan-apps');
  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0, clock, atlanApis: 'app', atlanRunPendingSeconds: 2, atlanRunSeconds: 5 });
  atlan = new Atlan(sandbox);
  await createSource(
    sandbox,
    'warehouse',
    `CREATE ROLE app_crawler LOGIN PASSWORD 'app-secret';
     GRANT CONNECT ON DATABASE warehouse TO app_crawler;
     CREATE SCHEMA core; CREATE SCHEMA scratch;
     CREATE TABLE core.customers (id int PRIMARY KEY, email text);
     CREATE TABLE core.tmp_load (x int);
     CREATE TABLE scratch.notes (t text);
     GRANT USAGE ON SCHEMA core, scratch TO app_crawler;
     GRANT SELECT ON ALL TABLES IN SCHEMA core, scratch TO app_crawler;`,
  );
});

afterAll(async () => {
  await sandbox?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** The inputs pyatlan's PostgresCrawler(...).basic(...).connection(...).include_metadata(...) assembles. */
function inputs(epoch: number, name: string, password = 'app-secret'): Record<string, unknown> {
  return {
    connection: { typeName: 'Connection', attributes: { qualifiedName: `default/postgres/${epoch}`, connectorName: 'postgres', name, adminRoles: [sandbox.atlan.roleId('$admin')] } },
    extraction_method: 'direct',
    credential: {
      authType: 'basic',
      name: `default-postgres-${epoch}-0`,
      connectorConfigName: 'atlan-connectors-postgres',
      connectorType: 'postgres',
      host: '127.0.0.1',
      port: sandbox.postgres.port,
      username: 'app_crawler',
      password,
      extra: { database: 'warehouse' },
    },
    credential_guid: '',
    include_filter: JSON.stringify({ '^warehouse$': ['^core$'] }),
    exclude_filter: '{}',
    temp_table_regex: 'tmp_.*',
    advanced_config: 'default',
    use_source_schema_filtering: 'false',
    control_config_strategy: 'default',
    control_config: '{}',
    use_jdbc_internal_methods: 'true',
  };
}

describe('discovery', () => {
  test('describe and the input contract; an unknown app is a 404, an unknown entrypoint 1003', async () => {
    expect(await atlan.ok('GET', '/api/service/v1/apps/postgres-crawler')).toEqual({
      app_id: 'postgres-crawler',
      name: 'PostgreSQL',
      native_ready: true,
      execution_mode: 'native',
      entrypoints: [{ name: 'crawler' }],
    });
    const contract = await atlan.ok('GET', '/api/service/v1/apps/postgres-crawler/inputs?entrypoint=crawler');
    expect(contract).toMatchObject({ title: 'AppInputContract', type: 'object' });
    expect(Object.keys(contract.properties)).toEqual(expect.arrayContaining(['connection', 'credential_guid', 'include_filter', 'temp_table_regex']));
    expect((await atlan.get('/api/service/v1/apps/snowflake-crawler')).status).toBe(404);
    const unknown = await atlan.get('/api/service/v1/apps/postgres-crawler/inputs?entrypoint=miner');
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ errorCode: 1003, errorMessage: expect.stringMatching(/unknown entrypoint/) });
  });
});

describe('an app workflow', () => {
  const epoch = 1924992001;
  const qn = `default/postgres/${epoch}`;
  let slug: string;
  let runId: string;

  test('create runs it; the raw credential is stored and replaced by its guid', async () => {
    const created = await atlan.ok('POST', '/api/service/v1/app', { app_id: 'postgres-crawler', name: 'Prod Warehouse', entrypoint: 'crawler', inputs: inputs(epoch, 'prod-warehouse') });
    expect(created).toMatchObject({ execution_mode: 'native', slug: expect.stringMatching(/^prod-warehouse-[0-9a-f]{8}$/), version: Date.UTC(2031, 0, 1) / 1000, run_id: expect.any(String) });
    ({ slug, run_id: runId } = created);
    const app = await atlan.ok('GET', `/api/service/v1/app/${slug}`);
    expect(app).toMatchObject({ slug, name: 'Prod Warehouse', app_id: 'postgres-crawler', version: created.version, owner: expect.stringMatching(/^service-account-/) });
    expect(app.inputs.credential).toBeUndefined();
    expect(app.inputs.credential_guid).toMatch(/^[0-9a-f-]{36}$/);
    expect((await atlan.ok('GET', `/api/service/credentials/${app.inputs.credential_guid}`)).username).toBe('app_crawler');
    expect(await atlan.ok('GET', `/api/service/v1/app/runs/${runId}`)).toMatchObject({ run_id: runId, slug, status: 'Pending' });
  });

  test('a second run while one is active is a 409 naming it; the run crawls when its time is up', async () => {
    const busy = await atlan.post(`/api/service/v1/app/${slug}/submit`);
    expect(busy.status).toBe(409);
    expect(busy.body).toMatchObject({ slug, run_id: runId });
    clock.advanceSeconds(2);
    expect((await atlan.ok('GET', `/api/service/v1/app/runs/${runId}`)).status).toBe('Running');
    clock.advanceSeconds(5);
    const run = await atlan.ok('GET', `/api/service/v1/app/runs/${runId}`);
    expect(run).toMatchObject({ status: 'Succeeded', started_at: '2031-01-01T00:00:00.000Z', finished_at: '2031-01-01T00:00:07.000Z' });
    // include core only; tmp_load matches the temp-table regex.
    expect((await atlan.assets(qn, 'Table')).map((e) => e.attributes.qualifiedName)).toEqual([`${qn}/warehouse/core/customers`]);
    const connection = await atlan.ok('GET', `/api/meta/entity/uniqueAttribute/type/Connection?attr:qualifiedName=${encodeURIComponent(qn)}`);
    expect(connection.entity).toMatchObject({ status: 'ACTIVE', attributes: { name: 'prod-warehouse', defaultCredentialGuid: expect.any(String) } });
  });

  test('creating the same name again is a 409 whose body carries the existing slug', async () => {
    const again = await atlan.post('/api/service/v1/app', { app_id: 'postgres-crawler', name: 'Prod Warehouse', inputs: inputs(epoch, 'prod-warehouse'), run: false });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ message: 'a workflow with that name already exists', slug, version: expect.any(Number) });
    const listed = await atlan.ok('GET', `/api/service/v1/app?name=${encodeURIComponent('Prod Warehouse')}`);
    expect(listed).toMatchObject({ has_more: false, next_cursor: null });
    expect(listed.workflows.map((w: any) => w.slug)).toEqual([slug]);
  });

  test('update replaces the inputs and keeps the stored credential; the next run crawls the new filter', async () => {
    const before = await atlan.ok('GET', `/api/service/v1/app/${slug}`);
    const { credential: _omitted, ...rest } = inputs(epoch, 'prod-warehouse');
    clock.advanceSeconds(60);
    const updated = await atlan.ok('PUT', `/api/service/v1/app/${slug}`, { inputs: { ...rest, include_filter: '{}', temp_table_regex: '' }, entrypoint: 'crawler' });
    expect(updated.slug).toBe(slug);
    expect(updated.version).toBeGreaterThan(before.version);
    const after = await atlan.ok('GET', `/api/service/v1/app/${slug}`);
    expect(after.inputs.credential_guid).toBe(before.inputs.credential_guid);
    expect(after.version).toBe(updated.version);

    const run = await atlan.ok('POST', `/api/service/v1/app/${slug}/submit`);
    expect(run).toMatchObject({ slug, status: 'Pending' });
    clock.advanceSeconds(7);
    expect((await atlan.ok('GET', `/api/service/v1/app/runs/${run.run_id}`)).status).toBe('Succeeded');
    expect((await atlan.assets(qn, 'Table')).map((e) => e.attributes.name)).toEqual(['customers', 'tmp_load', 'notes']);
  });

  test('cancel stops an active run at once; a finished one is not cancelled', async () => {
    const run = await atlan.ok('POST', `/api/service/v1/app/${slug}/submit`);
    expect(await atlan.ok('POST', `/api/service/v1/app/runs/${run.run_id}/cancel`)).toEqual({ run_id: run.run_id, cancelled: true, status: 'Stopped', slug });
    expect((await atlan.ok('GET', `/api/service/v1/app/runs/${run.run_id}`)).status).toBe('Stopped');
    expect(await atlan.ok('POST', `/api/service/v1/app/runs/${run.run_id}/cancel`)).toMatchObject({ cancelled: false, status: 'Stopped' });
    expect((await atlan.get('/api/service/v1/app/runs/nope')).status).toBe(404);
  });

  test('schedules are added and removed by trigger id; a null timezone is refused', async () => {
    const added = await atlan.ok('POST', `/api/service/v1/app/${slug}/schedule`, { cron: '0 9 * * *', timezone: 'Asia/Kolkata' });
    expect(added).toEqual({ trigger_id: expect.any(String), cron: '0 9 * * *', timezone: 'Asia/Kolkata' });
    expect((await atlan.post(`/api/service/v1/app/${slug}/schedule`, { cron: '0 9 * * *', timezone: null })).status).toBe(400);
    expect((await atlan.post(`/api/service/v1/app/${slug}/schedule`, { cron: 'every day' })).status).toBe(400);
    expect(await atlan.ok('DELETE', `/api/service/v1/app/${slug}/schedule/${added.trigger_id}`)).toEqual({ trigger_id: added.trigger_id, deleted: true });
    expect((await atlan.call('DELETE', `/api/service/v1/app/${slug}/schedule/${added.trigger_id}`)).status).toBe(404);
  });

  test('delete archives: the workflow is gone, its name free again', async () => {
    expect(await atlan.ok('DELETE', `/api/service/v1/app/${slug}`)).toEqual({ slug, archived: true });
    expect((await atlan.get(`/api/service/v1/app/${slug}`)).status).toBe(404);
    expect((await atlan.call('DELETE', `/api/service/v1/app/${slug}`)).status).toBe(404);
    const reused = await atlan.ok('POST', '/api/service/v1/app', { app_id: 'postgres-crawler', name: 'Prod Warehouse', inputs: inputs(1924992002, 'prod-warehouse-2'), run: false });
    expect(reused.slug).not.toBe(slug);
    expect(reused.run_id).toBeUndefined();
  });
});

describe('what the App API refuses', () => {
  test('bad inputs are 400s; a bad password fails the run with the crawler message', async () => {
    const create = (name: string, body: Record<string, unknown>) => atlan.post('/api/service/v1/app', { app_id: 'postgres-crawler', name, inputs: body });
    const refused = async (name: string, body: Record<string, unknown>, pattern: RegExp) => {
      const res = await create(name, body);
      expect(res.status).toBe(400);
      expect(res.body.errorMessage).toMatch(pattern);
    };
    await refused('a', { ...inputs(1924992100, 'a'), surprise: 1 }, /'surprise' is not an input/);
    await refused('b', { ...inputs(1924992101, 'b'), credential: undefined }, /needs a credential/);
    await refused('c', { ...inputs(1924992102, 'c'), connection: { typeName: 'Connection', attributes: { qualifiedName: 'default/snowflake/1', name: 'c', adminRoles: [] } } }, /default\/postgres/);
    await refused('d', { ...inputs(1924992103, 'd'), use_source_schema_filtering: 'yes' }, /use_source_schema_filtering/);
    expect((await atlan.post('/api/service/v1/app', { app_id: 'postgres-crawler', name: 'e', entrypoint: 'miner', inputs: inputs(1924992104, 'e') })).body.errorCode).toBe(1003);
    expect((await atlan.post('/api/service/v1/app', { app_id: 'postgres-crawler', inputs: {} })).status).toBe(400);

    const failing = await atlan.ok('POST', '/api/service/v1/app', { app_id: 'postgres-crawler', name: 'wrong password', inputs: inputs(1924992105, 'wrong', 'nope') });
    clock.advanceSeconds(7);
    const run = await atlan.ok('GET', `/api/service/v1/app/runs/${failing.run_id}`);
    expect(run.status).toBe('Failed');
    expect(run.message).toMatch(/authentication failed/);
  });
});

describe('which API the tenant serves', () => {
  const workflow = () =>
    postgresWorkflow({ epoch: 1924992200, connectionName: 'legacy', host: '127.0.0.1', port: sandbox.postgres.port, database: 'warehouse', username: 'app_crawler', password: 'app-secret', adminRoles: [sandbox.atlan.roleId('$admin')] });

  test("an App-only tenant answers 404 on the legacy paths; a workflow-only tenant on the App API's; both serves both", async () => {
    const legacy = await atlan.post('/api/service/workflows/indexsearch', findByType('atlan-postgres'));
    expect(legacy.status).toBe(404);
    expect(legacy.body.errorMessage).toMatch(/legacy workflow API .* is not available on this tenant/);
    expect((await atlan.post('/api/service/workflows?submit=true', workflow())).status).toBe(404);

    sandbox.atlan.configure({ apis: 'workflow' });
    expect(sandbox.atlan.settings.apis).toBe('workflow');
    expect((await atlan.get('/api/service/v1/apps/postgres-crawler')).status).toBe(404);
    expect((await atlan.get('/api/service/v1/app')).status).toBe(404);
    expect((await atlan.post('/api/service/workflows/indexsearch', findByType('atlan-postgres'))).status).toBe(200);
    expect((await atlan.post('/api/service/workflows?submit=true', workflow())).status).toBe(200);

    sandbox.atlan.configure({ apis: 'both' });
    expect((await atlan.get('/api/service/v1/apps/postgres-crawler')).status).toBe(200);
    expect((await atlan.post('/api/service/workflows/indexsearch', findByType('atlan-postgres'))).body.hits.total.value).toBe(1);
    // Identity, credentials and search answer whatever the workflow API.
    sandbox.atlan.configure({ apis: 'app' });
    expect((await atlan.get('/api/service/whoami')).status).toBe(200);
    expect((await atlan.get('/api/service/credentials')).status).toBe(200);
    expect(() => sandbox.atlan.configure({ apis: 'neither' as never })).toThrow(/atlanApis/);
  });
});
