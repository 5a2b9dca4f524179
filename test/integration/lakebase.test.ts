/**
 * The Lakebase resource types through the lifecycle engine against the sandbox's Databricks
 * emulator: real HTTP and operations, real Postgres behind the endpoints.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { EngineHarness } from '../support/engine';
import { lakebase, lakebaseCalls, lakebaseSpec, ref, WORKSPACE_SECRET } from '../support/lakebase';

let sandbox: Sandbox;
let dataDir: string;
let h: EngineHarness;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-lakebase-'));
  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0 });
}, 60_000);
afterAll(async () => {
  await sandbox?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});
beforeEach(() => {
  h = new EngineHarness();
  h.env = { [WORKSPACE_SECRET]: sandbox.databricks.defaultClient.clientSecret };
  sandbox.faults.clear();
  sandbox.requests.length = 0;
});
afterEach(() => h.cleanup());

const spec = (kind: Parameters<typeof lakebaseSpec>[1], id: string, props: Record<string, unknown>, options = {}) => lakebaseSpec(sandbox, kind, id, props, options);
const project = (projectId: string) => spec('project', 'project', { projectId }, { removalPolicy: 'destroy' as const });
const branch = (branchId: string, options = {}) => spec('branch', 'branch', { project: ref('project'), branchId }, { removalPolicy: 'destroy' as const, ...options });

async function connect(host: string, user: string, password: string, database = 'databricks_postgres'): Promise<Client> {
  const client = new Client({ host, port: 5432, user, password, database, ssl: { rejectUnauthorized: false } });
  await client.connect();
  return client;
}

describe('project, branch, endpoint, role, database', () => {
  test('are created in dependency order, named from their parents, and readable remotely', async () => {
    await h.reconcile([
      project('shop'),
      branch('dev'),
      spec('endpoint', 'ro', { branch: ref('branch'), endpointId: 'reader', endpointType: 'READ_ONLY', minCu: 0.5, maxCu: 1 }),
      spec('role', 'role', { branch: ref('branch'), roleId: 'team-a', postgresRole: 'team_a', attributes: { createdb: true } }),
      spec('database', 'db', { branch: ref('branch'), databaseId: 'orders-db', postgresDatabase: 'orders', role: ref('role') }),
    ]);
    const api = lakebase(sandbox);
    expect((await h.record('branch'))?.outputs).toMatchObject({ name: 'projects/shop/branches/dev', branchId: 'dev', project: 'projects/shop' });
    expect((await api.get('projects/shop/branches/dev/endpoints/reader'))?.status).toMatchObject({ endpoint_type: 'ENDPOINT_TYPE_READ_ONLY', autoscaling_limit_max_cu: 1 });
    expect((await api.get('projects/shop/branches/dev/roles/team-a'))?.status).toMatchObject({ postgres_role: 'team_a', attributes: expect.objectContaining({ createdb: true }) });
    expect((await api.get('projects/shop/branches/dev/databases/orders-db'))?.status).toMatchObject({ postgres_database: 'orders', role: 'projects/shop/branches/dev/roles/team-a' });
    expect((await h.record('ro'))?.outputs).toMatchObject({ host: expect.stringMatching(/\S/), port: 5432 });
    // Nothing sent twice, nothing deleted.
    expect(lakebaseCalls(sandbox).filter((c) => c.startsWith('DELETE'))).toEqual([]);
    await h.destroy();
    // Deleted the service's way: soft, restorable for a while, gone from the lists.
    expect((await api.get('projects/shop'))?.delete_time).toBeDefined();
    expect((await api.list(undefined, 'projects')).map((p) => p.name)).not.toContain('projects/shop');
  });

  test("the service's own children are adopted when declared, and changed in place", async () => {
    await h.reconcile([
      project('adopt'),
      spec('branch', 'production', { project: ref('project'), branchId: 'production', isProtected: true }, { removalPolicy: 'retain' }),
      spec('endpoint', 'primary', { branch: ref('production'), endpointId: 'primary', endpointType: 'READ_WRITE', minCu: 0.5, maxCu: 3 }),
      spec('database', 'default-db', { branch: ref('production'), databaseId: 'databricks-postgres', postgresDatabase: 'databricks_postgres', role: 'projects/adopt/branches/production/roles/' + ownerRole() }, { removalPolicy: 'retain' }),
    ]);
    const api = lakebase(sandbox);
    expect((await api.get('projects/adopt/branches/production'))?.status).toMatchObject({ is_protected: true, default: true });
    expect((await api.get('projects/adopt/branches/production/endpoints/primary'))?.status).toMatchObject({ autoscaling_limit_max_cu: 3 });
    expect(await api.list('projects/adopt', 'branches')).toHaveLength(1);
    expect(await api.list('projects/adopt/branches/production', 'endpoints')).toHaveLength(1);
    // Unprotect so the project can go; the primary endpoint is managed by its branch: forgotten, not an error.
    await h.reconcile([project('adopt'), spec('branch', 'production', { project: ref('project'), branchId: 'production', isProtected: false }, { removalPolicy: 'retain' })]);
    expect(h.log).toMatch(/primary.*managed by its parent/);
    expect(await api.get('projects/adopt/branches/production/endpoints/primary')).toBeDefined();
    await h.destroy();
  });

  test('autoscaling limits change in place with an update mask: no delete, no new endpoint', async () => {
    const endpoint = (maxCu: number) => spec('endpoint', 'ep', { branch: ref('branch'), endpointId: 'primary', endpointType: 'READ_WRITE', minCu: 0.5, maxCu });
    await h.reconcile([project('scale'), branch('dev'), endpoint(2)]);
    sandbox.requests.length = 0;
    await h.reconcile([project('scale'), branch('dev'), endpoint(4)]);
    const calls = lakebaseCalls(sandbox).filter((c) => !c.startsWith('GET'));
    expect(calls).toEqual(['PATCH projects/scale/branches/dev/endpoints/primary']);
    expect(sandbox.requests.find((r) => r.method === 'PATCH')?.query).toContain('update_mask=spec.autoscaling_limit_max_cu');
    expect((await lakebase(sandbox).get('projects/scale/branches/dev/endpoints/primary'))?.status).toMatchObject({ autoscaling_limit_max_cu: 4 });
    await h.destroy();
  });

  test("a project's update in place leaves its RETAIN branches alone: their reference to its name stays known", async () => {
    const named = (displayName: string) => spec('project', 'project', { projectId: 'retitle', displayName }, { removalPolicy: 'destroy' as const });
    const kept = spec('branch', 'branch', { project: ref('project'), branchId: 'kept' }, { removalPolicy: 'retain' });
    await h.reconcile([named('One'), kept]);
    const plan = await h.plan([named('Two'), kept]);
    expect(plan.resources.map((r) => [r.id, r.action, r.error])).toEqual([['project', 'update', undefined], ['branch', 'no-op', undefined]]);
    await h.reconcile([named('Two'), kept]);
    expect((await lakebase(sandbox).get('projects/retitle'))?.status).toMatchObject({ display_name: 'Two' });
    await h.destroy();
  });

  test('a role attribute changes with a leaf mask; its Postgres name replaces it', async () => {
    const role = (attributes: object, postgresRole = 'etl') => spec('role', 'role', { branch: ref('branch'), roleId: 'etl-role', postgresRole, attributes });
    await h.reconcile([project('roles'), branch('dev'), role({ createdb: true })]);
    sandbox.requests.length = 0;
    await h.reconcile([project('roles'), branch('dev'), role({ createdb: true, createrole: true })]);
    expect(sandbox.requests.find((r) => r.method === 'PATCH')?.query).toContain('update_mask=spec.attributes.createrole');
    const plan = await h.plan([project('roles'), branch('dev'), role({ createdb: true, createrole: true }, 'etl2')]);
    expect(plan.resources.find((r) => r.id === 'role')).toMatchObject({ action: 'replace' });
    await h.destroy();
  });

  test('a database is renamed in place', async () => {
    const db = (postgresDatabase: string) => spec('database', 'db', { branch: ref('branch'), databaseId: 'app-db', postgresDatabase, role: ref('role') });
    const role = spec('role', 'role', { branch: ref('branch'), roleId: 'owner-role', postgresRole: 'app_owner' });
    await h.reconcile([project('rename'), branch('dev'), role, db('app')]);
    await h.reconcile([project('rename'), branch('dev'), role, db('app_v2')]);
    expect((await lakebase(sandbox).get('projects/rename/branches/dev/databases/app-db'))?.status).toMatchObject({ postgres_database: 'app_v2' });
    await h.destroy();
  });

  test('roles created side by side on one branch wait out each other instead of failing', async () => {
    h.parallelism = 10;
    // Operations that take a while, so siblings collide.
    sandbox.databricks.setOperationDelay('role', 300);
    const roles = Array.from({ length: 5 }, (_, i) => spec('role', `role-${i}`, { branch: ref('branch'), roleId: `role-${i}x`, postgresRole: `r${i}` }));
    await h.reconcile([project('busy'), branch('dev'), ...roles]);
    expect((await lakebase(sandbox).list('projects/busy/branches/dev', 'roles')).map((r) => r.name).filter((n) => /role-\dx$/.test(n))).toHaveLength(5);
    expect(sandbox.requests.some((r) => r.status === 409)).toBe(true);
    sandbox.databricks.setOperationDelay('role', 0);
    await h.destroy();
  });

  test('a name taken outside the stack is refused with the fix; replaceExisting adopts it', async () => {
    await h.reconcile([project('taken'), branch('dev')]);
    const api = lakebase(sandbox);
    await api.create('projects/taken', 'branches', 'branch_id', 'manual', { spec: { no_expiry: true } });
    const manual = spec('branch', 'manual', { project: ref('project'), branchId: 'manual' });
    await expect(h.reconcile([project('taken'), branch('dev'), manual])).rejects.toThrow(/branch projects\/taken\/branches\/manual cannot be created: .*set replaceExisting: true/);
    await h.reconcile([project('taken'), branch('dev'), spec('branch', 'manual', { project: ref('project'), branchId: 'manual', replaceExisting: true })]);
    expect((await h.record('manual'))?.status).toBe('ready');
    await h.destroy();
  });
});

describe('operations', () => {
  test('a create that outlives its timeout fails naming the operation; the next run resumes it: one branch', async () => {
    await h.reconcile([project('slow')]);
    sandbox.databricks.setOperationDelay('branch', 3_000);
    await expect(h.reconcile([project('slow'), branch('dev', { timeoutSeconds: 1 })])).rejects.toThrow(/gave up waiting for branch projects\/slow\/branches\/dev to be created .*operation projects\/slow\/branches\/dev\/operations\//);
    sandbox.databricks.setOperationDelay('branch', 0);
    sandbox.requests.length = 0;
    await h.reconcile([project('slow'), branch('dev')]);
    expect(lakebaseCalls(sandbox).filter((c) => c.startsWith('POST'))).toEqual([]);
    expect(h.log).toContain('resuming projects/slow/branches/dev/operations/');
    expect(await lakebase(sandbox).list('projects/slow', 'branches')).toHaveLength(2);
    await h.destroy();
  });

  test('a failed operation is reported with its error code', async () => {
    await h.reconcile([project('fails'), branch('dev')]);
    const bad = spec('database', 'db', { branch: ref('branch'), databaseId: 'bad-db', postgresDatabase: 'bad', role: 'projects/fails/branches/dev/roles/nobody' });
    await expect(h.reconcile([project('fails'), branch('dev'), bad])).rejects.toThrow(/NOT_FOUND|role/);
    await h.destroy();
  });
});

describe('endpoints are real', () => {
  test('a credential logs in at the endpoint host; a child branch starts with its parent data and stays apart', async () => {
    await h.reconcile([
      project('data'),
      spec('branch', 'production', { project: ref('project'), branchId: 'production' }),
      spec('endpoint', 'prod-ep', { branch: ref('production'), endpointId: 'primary', endpointType: 'READ_WRITE' }),
      spec('credential', 'prod-login', { endpoint: ref('prod-ep') }),
    ]);
    const login = async (id: string, endpoint: string) => {
      const { username } = (await h.record(id))!.outputs as { username: string };
      const { host } = (await h.record(endpoint))!.outputs as { host: string };
      return connect(host, username, (await h.secrets(id)).password);
    };
    const prod = await login('prod-login', 'prod-ep');
    await prod.query('create table orders (id int primary key); insert into orders values (1)');
    await prod.end();
    await h.reconcile([
      project('data'),
      spec('branch', 'production', { project: ref('project'), branchId: 'production' }),
      spec('endpoint', 'prod-ep', { branch: ref('production'), endpointId: 'primary', endpointType: 'READ_WRITE' }),
      spec('credential', 'prod-login', { endpoint: ref('prod-ep') }),
      spec('branch', 'dev', { project: ref('project'), branchId: 'dev', sourceBranch: ref('production') }),
      spec('endpoint', 'dev-ep', { branch: ref('dev'), endpointId: 'primary', endpointType: 'READ_WRITE' }),
      spec('credential', 'dev-login', { endpoint: ref('dev-ep') }),
    ]);
    const dev = await login('dev-login', 'dev-ep');
    expect((await dev.query('select id from orders')).rows).toEqual([{ id: 1 }]);
    await dev.query('insert into orders values (2)');
    await dev.end();
    const again = await login('prod-login', 'prod-ep');
    expect((await again.query('select id from orders order by id')).rows).toEqual([{ id: 1 }]);
    await again.end();
    expect(h.log).not.toContain((await h.secrets('dev-login')).password);
    await h.destroy();
  });

  test('a synced table reaches ONLINE and its Postgres table exists with the key columns', async () => {
    const role = spec('role', 'role', { branch: ref('branch'), roleId: 'sync-owner', postgresRole: 'sync_owner' });
    const db = spec('database', 'db', { branch: ref('branch'), databaseId: 'sync-db', postgresDatabase: 'sync_db', role: ref('role') });
    const catalog = spec('catalog', 'catalog', { catalogId: 'sync_cat', branch: ref('branch'), postgresDatabase: ref('db', 'postgresDatabase') });
    const table = spec('synced-table', 'table', {
      syncedTableId: 'sync_cat.public.orders',
      sourceTableFullName: 'main.sales.orders',
      primaryKeyColumns: ['order_id'],
      schedulingPolicy: 'SNAPSHOT',
      branch: ref('branch'),
      postgresDatabase: ref('db', 'postgresDatabase'),
      catalog: ref('catalog'),
    });
    await h.reconcile([project('sync'), branch('dev'), role, db, catalog, table]);
    expect((await h.record('table'))?.outputs.state).toMatch(/^SYNCED_TABLE_ONLINE/);
    // A second catalog over the same database is refused.
    const twice = spec('catalog', 'catalog2', { catalogId: 'sync_cat2', branch: ref('branch'), postgresDatabase: ref('db', 'postgresDatabase') });
    await expect(h.reconcile([project('sync'), branch('dev'), role, db, catalog, table, twice])).rejects.toThrow(/catalog/i);
    await h.destroy();
  });
});

function ownerRole(): string {
  return `sp-${sandbox.databricks.defaultClient.clientId.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
}
