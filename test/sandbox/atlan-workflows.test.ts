/**
 * The Atlan emulator's legacy package workflows, driven as the official client drives them:
 * create-and-run a Postgres crawler that really crawls a database in the sandbox's Postgres
 * (include, exclude and the temp-table regex honoured), runs moving Pending → Running →
 * Succeeded on a ManualClock, the searches the SDKs send, rerun, stop, update with a schedule,
 * archive, connection-delete, a re-crawl that soft-deletes what disappeared, failures the way
 * Atlan reports them, and a submit that commits and then answers 502.
 */
import * as fs from 'node:fs';
import { ManualClock, startSandbox, type Sandbox } from '../../src/sandbox';
import { Atlan, connectionByName, connectionDeleteWorkflow, createSource, findByType, postgresWorkflow, type PostgresWorkflowOptions } from './atlan-support';
import { asSuperuser, tempDataDir } from './support';

let dataDir: string;
let sandbox: Sandbox;
let atlan: Atlan;
const clock = new ManualClock(Date.UTC(2030, 0, 1));

const SOURCE = `
  CREATE ROLE crawler LOGIN PASSWORD 'crawler-secret';
  GRANT CONNECT ON DATABASE shop TO crawler;
  CREATE SCHEMA sales; CREATE SCHEMA hr; CREATE SCHEMA staging; CREATE SCHEMA secret;
  CREATE TABLE sales.orders (id bigint PRIMARY KEY, customer text NOT NULL, total numeric(10, 2));
  COMMENT ON TABLE sales.orders IS 'One row per order';
  CREATE TABLE sales."orders_TEST" (id int);
  CREATE VIEW sales.big_orders AS SELECT id, total FROM sales.orders WHERE total > 100;
  CREATE MATERIALIZED VIEW sales.daily AS SELECT 1 AS n;
  CREATE TABLE hr.people (id int, name text);
  CREATE TABLE staging.raw (payload jsonb);
  CREATE TABLE secret.keys (k text);
  GRANT USAGE ON SCHEMA sales, hr, staging TO crawler;
  GRANT SELECT ON ALL TABLES IN SCHEMA sales, hr, staging TO crawler;
`;

beforeAll(async () => {
  dataDir = tempDataDir('atlan-workflows');
  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0, clock, atlanRunPendingSeconds: 1, atlanRunSeconds: 3 });
  atlan = new Atlan(sandbox);
  await createSource(sandbox, 'shop', SOURCE);
});

afterAll(async () => {
  await sandbox?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function crawler(epoch: number, overrides: Partial<PostgresWorkflowOptions> = {}) {
  return postgresWorkflow({
    epoch,
    connectionName: `conn-${epoch}`,
    host: '127.0.0.1',
    port: sandbox.postgres.port,
    database: 'shop',
    username: 'crawler',
    password: 'crawler-secret',
    adminRoles: [sandbox.atlan.roleId('$admin')],
    ...overrides,
  });
}

const names = (entities: any[]) => entities.map((e) => e.attributes.qualifiedName);

describe('a Postgres crawler workflow', () => {
  const epoch = 1893456001;
  const qn = `default/postgres/${epoch}`;
  const template = `atlan-postgres-${epoch}`;

  test('create and run answers with the stored template; the run is Pending at first and no connection exists yet', async () => {
    const body = crawler(epoch, { include: { shop: ['sales', 'hr', 'secret'] }, exclude: { shop: ['hr'] }, tempTableRegex: '.*_TEST' });
    const res = await atlan.post('/api/service/workflows?submit=true', body);
    expect(res.status).toBe(200);
    expect(res.body.metadata).toMatchObject({ name: template, namespace: 'default', labels: body.metadata.labels, creationTimestamp: '2030-01-01T00:00:00Z' });
    expect(res.body.payload).toEqual([]);
    // The inline credential was stored and its guid put where the placeholder was.
    const params = res.body.spec.templates[0].dag.tasks[0].arguments.parameters;
    const guid = params.find((p: any) => p.name === 'credential-guid').value;
    expect(guid).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(params.find((p: any) => p.name === 'connection').value).attributes.defaultCredentialGuid).toBe(guid);
    const credential = await atlan.ok('GET', `/api/service/credentials/${guid}`);
    expect(credential).toMatchObject({ name: `default-postgres-${epoch}-0`, host: '127.0.0.1', authType: 'basic', username: 'crawler', extra: { database: 'shop' } });
    expect(credential.password).toBeUndefined();

    const run = await atlan.latestRun(template);
    expect(run.metadata.name).toMatch(new RegExp(`^${template}-[a-z0-9]{5}$`));
    expect(run.status).toMatchObject({ phase: 'Pending', startedAt: '2030-01-01T00:00:00Z', finishedAt: null });
    expect(run.metadata.labels['workflows.argoproj.io/phase']).toBe('Pending');
    expect(run.status.storedWorkflowTemplateSpec.workflowTemplateRef.name).toBe(template);
    const found = await atlan.ok('POST', '/api/meta/search/indexsearch', connectionByName(`conn-${epoch}`));
    expect(found).toMatchObject({ queryType: 'INDEX', approximateCount: 0 });
    expect(found.entities).toBeUndefined();
  });

  test('once Running the Connection exists; when the run ends it has crawled what the filters allow', async () => {
    clock.advanceSeconds(1);
    expect((await atlan.latestRun(template)).status.phase).toBe('Running');
    const found = await atlan.ok('POST', '/api/meta/search/indexsearch', connectionByName(`conn-${epoch}`));
    expect(found.approximateCount).toBe(1);
    expect(found.entities[0]).toMatchObject({ typeName: 'Connection', status: 'ACTIVE', attributes: { qualifiedName: qn, name: `conn-${epoch}`, connectorName: 'postgres' } });
    expect(found.entities[0].attributes.defaultCredentialGuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(await atlan.assets(qn, 'Table')).toEqual([]);

    clock.advanceSeconds(3);
    const run = await atlan.latestRun(template);
    expect(run.status).toMatchObject({ phase: 'Succeeded', finishedAt: '2030-01-01T00:00:04Z', progress: '1/1' });
    expect(run.metadata.labels).toMatchObject({ 'workflows.argoproj.io/phase': 'Succeeded', 'workflows.argoproj.io/completed': 'true' });

    expect(names(await atlan.assets(qn, 'Database'))).toEqual([`${qn}/shop`]);
    // hr is excluded, staging is not included, secret is not visible to the crawler's role.
    expect(names(await atlan.assets(qn, 'Schema'))).toEqual([`${qn}/shop/sales`]);
    const tables = await atlan.assets(qn, 'Table');
    expect(names(tables)).toEqual([`${qn}/shop/sales/orders`]);
    expect(names(await atlan.assets(qn, 'View'))).toEqual([`${qn}/shop/sales/big_orders`]);
    expect(names(await atlan.assets(qn, 'MaterialisedView'))).toEqual([`${qn}/shop/sales/daily`]);
    const columns = await atlan.assets(qn, 'Column');
    expect(names(columns)).toEqual([
      `${qn}/shop/sales/big_orders/id`,
      `${qn}/shop/sales/big_orders/total`,
      `${qn}/shop/sales/daily/n`,
      `${qn}/shop/sales/orders/customer`,
      `${qn}/shop/sales/orders/id`,
      `${qn}/shop/sales/orders/total`,
    ]);
    expect(columns.find((c) => c.attributes.name === 'customer').attributes).toMatchObject({ tableName: 'orders', schemaName: 'sales', dataType: 'text' });
    // Columns of views and materialised views name their parent as a view.
    expect(columns.find((c) => c.attributes.name === 'n').attributes).toMatchObject({ viewName: 'daily', dataType: 'int4' });

    const table = await atlan.ok('GET', `/api/meta/entity/uniqueAttribute/type/Table?attr:qualifiedName=${encodeURIComponent(`${qn}/shop/sales/orders`)}`);
    expect(table.entity.attributes).toMatchObject({ columnCount: 3, description: 'One row per order', databaseQualifiedName: `${qn}/shop`, schemaQualifiedName: `${qn}/shop/sales` });
    const byGuid = await atlan.ok('GET', `/api/meta/entity/guid/${table.entity.guid}`);
    expect(byGuid.entity.attributes.qualifiedName).toBe(`${qn}/shop/sales/orders`);
  });

  test('the searches the SDKs send find the template and its runs', async () => {
    const byType = await atlan.ok('POST', '/api/service/workflows/indexsearch', findByType('atlan-postgres'));
    expect(byType.hits.total).toEqual({ value: 1, relation: 'eq' });
    expect(byType.hits.hits[0]).toMatchObject({ _id: template, _source: { kind: 'WorkflowTemplate', metadata: { name: template } } });
    // The anchored regexp skips run names and other packages.
    expect((await atlan.ok('POST', '/api/service/workflows/indexsearch', findByType('atlan-connection-delete'))).hits.hits).toEqual([]);
    const byId = await atlan.ok('POST', '/api/service/workflows/indexsearch', {
      from: 0,
      size: 1,
      query: { bool: { filter: [{ nested: { path: 'metadata', query: { bool: { must: [{ term: { 'metadata.name.keyword': { value: template } } }] } } } }] } },
    });
    expect(byId.hits.hits.map((h: any) => h._id)).toEqual([template]);

    const run = (await atlan.latestRun(template)).metadata.name;
    const byPhase = await atlan.ok('POST', '/api/service/runs/indexsearch', {
      from: 0,
      size: 100,
      query: {
        bool: {
          must: [{ nested: { path: 'spec', query: { term: { 'spec.workflowTemplateRef.name.keyword': { value: template } } } } }],
          filter: [{ term: { 'status.phase.keyword': { value: 'Succeeded' } } }],
        },
      },
    });
    expect(byPhase.hits.hits.map((h: any) => h._id)).toEqual([run]);
    const runById = await atlan.ok('POST', '/api/service/runs/indexsearch', { from: 0, size: 1, query: { bool: { filter: [{ term: { _id: { value: run } } }] } } });
    expect(runById.hits.hits[0]._source.metadata.name).toBe(run);
    const recent = await atlan.ok('POST', '/api/service/runs/indexsearch', {
      from: 0,
      size: 100,
      query: {
        bool: {
          must: [
            { nested: { path: 'metadata', query: { terms: { 'metadata.labels.workflows.argoproj.io/phase.keyword': ['Succeeded', 'Failed'] } } } },
            { range: { 'status.startedAt': { gte: 'now-2h' } } },
            { nested: { path: 'metadata', query: { exists: { field: 'metadata.labels.workflows.argoproj.io/creator' } } } },
          ],
        },
      },
    });
    expect(recent.hits.hits.map((h: any) => h._id)).toEqual([run]);
  });

  test('a rerun starts a new run; while it is active the idempotent check sees it, and it re-crawls: gone tables are soft-deleted', async () => {
    await asSuperuser(sandbox, 'shop', (c) => c.query('DROP MATERIALIZED VIEW sales.daily'));
    const rerun = await atlan.ok('POST', '/api/service/workflows/submit', { namespace: 'default', resourceKind: 'WorkflowTemplate', resourceName: template });
    expect(rerun.metadata.name).toMatch(new RegExp(`^${template}-[a-z0-9]{5}$`));
    expect(rerun.metadata.generateName).toBe(`${template}-`);
    expect(rerun.status.phase).toBe('Pending');
    // pyatlan's rerun(idempotent=True): any Pending or Running run of the template means "skip".
    const current = await atlan.ok('POST', '/api/service/runs/indexsearch', {
      from: 0,
      size: 50,
      query: { bool: { filter: [{ nested: { path: 'spec', query: { term: { 'spec.workflowTemplateRef.name.keyword': { value: template } } } } }] } },
      sort: [{ 'metadata.creationTimestamp': { order: 'desc', nested: { path: 'metadata' } } }],
    });
    expect(current.hits.hits.map((h: any) => h._source.status.phase)).toEqual(['Pending', 'Succeeded']);
    expect(current.hits.hits[0]._id).toBe(rerun.metadata.name);

    clock.advanceSeconds(4);
    expect((await atlan.latestRun(template)).status.phase).toBe('Succeeded');
    expect(await atlan.assets(qn, 'MaterialisedView')).toEqual([]);
    expect(names(await atlan.assets(qn, 'MaterialisedView', 'DELETED'))).toEqual([`${qn}/shop/sales/daily`]);
    expect(names(await atlan.assets(qn, 'Column', 'DELETED'))).toEqual([`${qn}/shop/sales/daily/n`]);
    expect(names(await atlan.assets(qn, 'Table'))).toEqual([`${qn}/shop/sales/orders`]);
  });

  test('stop answers with the run still active; a second later it has Failed', async () => {
    const rerun = await atlan.ok('POST', '/api/service/workflows/submit', { namespace: 'default', resourceKind: 'WorkflowTemplate', resourceName: template });
    clock.advanceSeconds(1);
    const stopped = await atlan.ok('POST', `/api/service/runs/${rerun.metadata.name}/stop`);
    expect(stopped.status.phase).toBe('Running');
    expect(stopped.status.storedWorkflowTemplateSpec.workflowTemplateRef.name).toBe(template);
    clock.advanceSeconds(1);
    const run = await atlan.latestRun(template);
    expect(run.status).toMatchObject({ phase: 'Failed', message: "Stopped with strategy 'Stop'" });
    expect((await atlan.post('/api/service/runs/no-such-run/stop')).status).toBe(404);
  });

  test('update with schedule annotations makes a CronWorkflow; the credential stays', async () => {
    const hit = (await atlan.ok('POST', '/api/service/workflows/indexsearch', findByType('atlan-postgres'))).hits.hits[0]._source;
    const guid = hit.spec.templates[0].dag.tasks[0].arguments.parameters.find((p: any) => p.name === 'credential-guid').value;
    hit.metadata.annotations['orchestration.atlan.com/schedule'] = '5 4 * * *';
    hit.metadata.annotations['orchestration.atlan.com/timezone'] = 'Europe/Paris';
    const updated = await atlan.ok('POST', `/api/service/workflows/${template}`, { metadata: hit.metadata, spec: hit.spec });
    expect(updated.metadata).toMatchObject({ name: template, generation: 2 });
    const cron = await atlan.ok('GET', `/api/service/runs/cron/${template}-cron`);
    expect(cron.spec).toMatchObject({ schedule: '5 4 * * *', timezone: 'Europe/Paris', workflowSpec: { workflowTemplateRef: { name: template } } });
    expect((await atlan.ok('GET', '/api/service/runs/cron')).items.map((c: any) => c.metadata.name)).toEqual([`${template}-cron`]);
    const again = (await atlan.ok('POST', '/api/service/workflows/indexsearch', findByType('atlan-postgres'))).hits.hits[0]._source;
    expect(again.spec.templates[0].dag.tasks[0].arguments.parameters.find((p: any) => p.name === 'credential-guid').value).toBe(guid);

    const renamed = await atlan.post(`/api/service/workflows/${template}`, { metadata: { ...hit.metadata, name: 'atlan-postgres-1' }, spec: hit.spec });
    expect(renamed.status).toBe(400);
    expect((await atlan.post('/api/service/workflows/atlan-postgres-1000000000', { metadata: { name: 'atlan-postgres-1000000000' }, spec: hit.spec })).status).toBe(404);
  });

  test('archive removes the template from search (the Connection and assets stay); connection-delete then soft-deletes them', async () => {
    await atlan.ok('POST', `/api/service/workflows/${template}/archive`);
    expect((await atlan.ok('POST', '/api/service/workflows/indexsearch', findByType('atlan-postgres'))).hits.hits).toEqual([]);
    expect((await atlan.post(`/api/service/workflows/${template}/archive`)).status).toBe(404);
    expect((await atlan.post('/api/service/workflows/submit', { namespace: 'default', resourceKind: 'WorkflowTemplate', resourceName: template })).status).toBe(404);
    expect((await atlan.ok('POST', '/api/meta/search/indexsearch', connectionByName(`conn-${epoch}`))).approximateCount).toBe(1);

    const deletion = await atlan.post('/api/service/workflows?submit=true', connectionDeleteWorkflow(1893456100, qn, false));
    expect(deletion.status).toBe(200);
    clock.advanceSeconds(4);
    expect((await atlan.latestRun('atlan-connection-delete-1893456100')).status.phase).toBe('Succeeded');
    expect((await atlan.ok('POST', '/api/meta/search/indexsearch', connectionByName(`conn-${epoch}`))).approximateCount).toBe(0);
    expect(await atlan.assets(qn, 'Table')).toEqual([]);
    expect(names(await atlan.assets(qn, 'Table', 'DELETED'))).toEqual([`${qn}/shop/sales/orders`]);
  });
});

describe('runs that fail', () => {
  test('bad credentials: the run Fails with the crawler message; the Connection exists anyway', async () => {
    const epoch = 1893456200;
    expect((await atlan.post('/api/service/workflows?submit=true', crawler(epoch, { password: 'wrong' }))).status).toBe(200);
    clock.advanceSeconds(4);
    const run = await atlan.latestRun(`atlan-postgres-${epoch}`);
    expect(run.status.phase).toBe('Failed');
    expect(run.status.message).toMatch(/authentication failed for user 'crawler'/);
    expect((await atlan.ok('POST', '/api/meta/search/indexsearch', connectionByName(`conn-${epoch}`))).approximateCount).toBe(1);
    expect(await atlan.assets(`default/postgres/${epoch}`, 'Database')).toEqual([]);
  });

  test('IAM auth, offline (S3) extraction, a missing database and a closed port fail with clear messages', async () => {
    const cases: Array<[number, Partial<PostgresWorkflowOptions>, RegExp]> = [
      [1893456201, { authType: 'iam_user' }, /needs AWS/],
      [1893456202, { extraction: 's3' }, /Extraction method 's3'.*sandbox does not have/],
      [1893456203, { database: 'nope' }, /database 'nope' does not exist/],
      [1893456204, { port: 1 }, /connection refused/],
    ];
    for (const [epoch, overrides] of cases) expect((await atlan.post('/api/service/workflows?submit=true', crawler(epoch, overrides))).status).toBe(200);
    clock.advanceSeconds(4);
    for (const [epoch, , message] of cases) {
      const run = await atlan.latestRun(`atlan-postgres-${epoch}`);
      expect(run.status.phase).toBe('Failed');
      expect(run.status.message).toMatch(message);
    }
  });
});

describe('what create refuses', () => {
  test('a taken name is a 409; unknown packages, bad names, admins, filters and missing credentials are 400s', async () => {
    const epoch = 1893456300;
    expect((await atlan.post('/api/service/workflows?submit=true', crawler(epoch))).status).toBe(200);
    const again = await atlan.post('/api/service/workflows?submit=true', crawler(epoch));
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ errorCode: 409, errorMessage: expect.stringMatching(/already exists/) });

    const refused = async (body: any, pattern: RegExp) => {
      const res = await atlan.post('/api/service/workflows?submit=true', body);
      expect(res.status).toBe(400);
      expect(res.body.errorMessage).toMatch(pattern);
    };
    const other = crawler(1893456301);
    other.spec.templates[0].dag.tasks[0].templateRef.name = 'atlan-snowflake';
    await refused(other, /package 'atlan-snowflake' is not installed/);
    await refused({ ...crawler(1893456302), metadata: { ...crawler(1893456302).metadata, name: 'my-crawler' } }, /must start with 'atlan-postgres-'/);
    await refused(crawler(1893456303, { adminRoles: [] }), /at least one admin/);
    await refused(crawler(1893456304, { adminRoles: ['$admin'] }), /no role's id/);
    await refused(crawler(1893456305, { adminRoles: [], adminGroups: ['Admins'] }), /no group's internal name/);
    await refused(crawler(1893456306, { adminRoles: [], adminUsers: ['nobody'] }), /no user's username/);
    await refused(crawler(1893456307, { tempTableRegex: '(' }), /not a valid regular expression/);
    await refused({ ...crawler(1893456308), payload: [] }, /needs a credential/);
    expect((await atlan.post('/api/service/workflows?submit=true', { metadata: {} })).status).toBe(400);
    // Groups by internal name, users by username or an API key's service account are fine.
    expect((await atlan.post('/api/service/workflows?submit=true', crawler(1893456309, { adminRoles: [], adminGroups: ['admins'], adminUsers: ['jdoe'] }))).status).toBe(200);
  });

  test('no key is a 401; a $guest key may search but not create; a $member key uses package-workflows', async () => {
    const anonymous = new Atlan(sandbox, null);
    const res = await anonymous.post('/api/service/workflows/indexsearch', findByType('atlan-postgres'));
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ errorCode: 401, errorMessage: expect.any(String), causes: [] });
    expect((await new Atlan(sandbox, 'not-a-key').get('/api/service/whoami')).status).toBe(401);

    const guest = new Atlan(sandbox, (await sandbox.atlan.addApiKey({ roles: ['$guest'] })).token);
    expect((await guest.post('/api/service/workflows/indexsearch', findByType('atlan-postgres'))).status).toBe(200);
    expect((await guest.post('/api/service/workflows?submit=true', crawler(1893456400))).status).toBe(403);

    const member = new Atlan(sandbox, (await sandbox.atlan.addApiKey({ roles: ['$member'] })).token);
    expect((await member.ok('GET', '/api/service/whoami')).roles.map((r: any) => r.name)).toEqual(['$member']);
    const created = await member.post('/api/service/package-workflows?submit=true', crawler(1893456401));
    expect(created.status).toBe(200);
    const rerun = await member.ok('POST', '/api/service/package-workflows/submit', { namespace: 'default', resourceKind: 'WorkflowTemplate', resourceName: 'atlan-postgres-1893456401' });
    expect(rerun.metadata.labels['workflows.argoproj.io/creator-preferred-username']).toMatch(/^service-account-apikey-/);
    expect((await member.post('/api/service/package-workflows/atlan-postgres-1893456401/archive')).status).toBe(200);
  });
});

describe('faults', () => {
  test('a create that commits and then answers 502 left its workflow and run behind', async () => {
    sandbox.atlan.failAfterCommit({ method: 'POST', path: '/api/service/workflows' });
    const res = await atlan.post('/api/service/workflows?submit=true', crawler(1893456500));
    expect(res.status).toBe(502);
    expect(res.body.errorCode).toBe(502);
    expect((await atlan.latestRun('atlan-postgres-1893456500')).status.phase).toBe('Pending');
    // The client's retry of the same body finds the name taken.
    expect((await atlan.post('/api/service/workflows?submit=true', crawler(1893456500))).status).toBe(409);
  });

  test("the sandbox's fault injector answers 429 with Retry-After in Atlan's error shape", async () => {
    sandbox.faults.add({ path: '/api/service/runs/indexsearch', status: 429, retryAfterSeconds: 7 });
    const res = await atlan.post('/api/service/runs/indexsearch', { from: 0, size: 1 });
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.body).toMatchObject({ errorCode: 429, errorMessage: expect.stringMatching(/Too many requests/) });
    expect((await atlan.post('/api/service/runs/indexsearch', { from: 0, size: 1 })).status).toBe(200);
  });

  test('with index lag, a new workflow and its run show in search only once the lag has passed', async () => {
    sandbox.atlan.configure({ indexLagSeconds: 10 });
    try {
      const epoch = 1893456600;
      expect((await atlan.post('/api/service/workflows?submit=true', crawler(epoch))).status).toBe(200);
      const byId = { from: 0, size: 1, query: { nested: { path: 'metadata', query: { term: { 'metadata.name.keyword': { value: `atlan-postgres-${epoch}` } } } } } };
      expect((await atlan.ok('POST', '/api/service/workflows/indexsearch', byId)).hits.hits).toEqual([]);
      expect(await atlan.latestRun(`atlan-postgres-${epoch}`)).toBeUndefined();
      clock.advanceSeconds(10);
      expect((await atlan.ok('POST', '/api/service/workflows/indexsearch', byId)).hits.total.value).toBe(1);
      expect((await atlan.latestRun(`atlan-postgres-${epoch}`)).status.phase).toBe('Succeeded');
    } finally {
      sandbox.atlan.configure({ indexLagSeconds: 0 });
    }
  });

  test('queries the sandbox does not understand are 400s, not silent matches', async () => {
    const res = await atlan.post('/api/service/runs/indexsearch', { query: { geo_shape: { x: {} } } });
    expect(res.status).toBe(400);
    expect(res.body.errorMessage).toMatch(/geo_shape/);
    expect((await atlan.post('/api/meta/search/indexsearch', { dsl: { size: -1 } })).status).toBe(400);
  });
});
