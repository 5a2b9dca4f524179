/**
 * Lakebase endpoints, roles, databases, catalogs and synced tables in the Databricks emulator:
 * their wire forms, update masks, duplicates and other errors, the one-change-at-a-time rule per
 * branch, and what each is in the branch's real Postgres.
 */
import * as fs from 'node:fs';
import { Client } from 'pg';
import { ManualClock, startSandbox, type Sandbox } from '../../src/sandbox';
import { Workspace } from './databricks-support';
import { tempDataDir } from './support';

let sandbox: Sandbox;
let dataDir: string;
let ws: Workspace;
const clock = new ManualClock(Date.UTC(2030, 0, 1));
const PROD = 'projects/res/branches/production';

beforeAll(async () => {
  dataDir = tempDataDir('databricks-resources');
  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0, clock, databricksSyncedTableProvisioningMs: 60_000 });
  ws = new Workspace(sandbox, sandbox.databricks.token);
  await ws.createProject('res', { default_endpoint_settings: { autoscaling_limit_min_cu: 0.5, autoscaling_limit_max_cu: 2 } });
});

afterAll(async () => {
  await sandbox?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

afterEach(() => sandbox.databricks.setOperationDelay('all', 0));

/** A query as the branch's superuser, behind the API's back. */
async function sql(branch: string, query: string, params: unknown[] = [], database = 'postgres'): Promise<any[]> {
  const login = await sandbox.databricks.branchSuperuser(branch);
  const client = new Client({ ...login, database });
  await client.connect();
  try {
    return (await client.query(query, params)).rows;
  } finally {
    await client.end();
  }
}

describe('endpoints', () => {
  test("a read-only endpoint gets the project's settings and a host of its own; a second read-write one is refused", async () => {
    const ro = await ws.create(`${PROD}/endpoints`, 'endpoint_id', 'reader', { spec: { endpoint_type: 'ENDPOINT_TYPE_READ_ONLY' } });
    expect(ro).toMatchObject({
      name: `${PROD}/endpoints/reader`,
      endpoint_id: 'reader',
      parent: PROD,
      status: {
        endpoint_id: 'reader',
        endpoint_type: 'ENDPOINT_TYPE_READ_ONLY',
        autoscaling_limit_min_cu: 0.5,
        autoscaling_limit_max_cu: 2,
        suspend_timeout_duration: '86400s',
        disabled: false,
        settings: {},
        hosts: { host: expect.any(String), read_only_host: expect.any(String) },
      },
    });
    const primary = (await ws.get(`${PROD}/endpoints/primary`)).body;
    expect(ro.status.hosts.host).not.toBe(primary.status.hosts.host);
    expect(sandbox.databricks.endpointAddress(ro.name)).toEqual({ host: ro.status.hosts.host, port: 5432 });

    const second = await ws.call('POST', `${PROD}/endpoints`, { query: { endpoint_id: 'writer' }, body: { spec: { endpoint_type: 'ENDPOINT_TYPE_READ_WRITE' } } });
    expect(second).toMatchObject({ status: 409, body: { error_code: 'ALREADY_EXISTS', message: expect.stringMatching(/read_write endpoint already exists/) } });
    expect((await ws.call('POST', `${PROD}/endpoints`, { query: { endpoint_id: 'reader' }, body: { spec: { endpoint_type: 'ENDPOINT_TYPE_READ_ONLY' } } })).status).toBe(409);
    expect((await ws.call('POST', `${PROD}/endpoints`, { query: { endpoint_id: 'typeless' }, body: { spec: {} } })).body.message).toBe(
      `Field 'endpoint.spec.endpoint_type' is required, expected non-default value (not "")!`,
    );
    expect((await ws.call('POST', `${PROD}/endpoints`, { query: { endpoint_id: 'odd' }, body: { spec: { endpoint_type: 'read_write' } } })).body.error_code).toBe('INVALID_PARAMETER_VALUE');
  });

  test('replace_existing adopts the implicit primary endpoint; its type cannot change', async () => {
    const adopted = await ws.create(`${PROD}/endpoints`, 'endpoint_id', 'primary', { spec: { endpoint_type: 'ENDPOINT_TYPE_READ_WRITE', autoscaling_limit_max_cu: 4 } }, { replace_existing: true });
    expect(adopted.status).toMatchObject({ autoscaling_limit_min_cu: 0.5, autoscaling_limit_max_cu: 4 });
    const retyped = await ws.call('POST', `${PROD}/endpoints`, { query: { endpoint_id: 'primary', replace_existing: true }, body: { spec: { endpoint_type: 'ENDPOINT_TYPE_READ_ONLY' } } });
    expect(retyped.body).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE', message: expect.stringMatching(/endpoint_type/) });
  });

  test('compute limits: at least 0.5 CU, at most 64, at most 16 apart, min not above max; suspension one way or the other', async () => {
    for (const spec of [
      { autoscaling_limit_min_cu: 0.25 },
      { autoscaling_limit_max_cu: 65 },
      { autoscaling_limit_min_cu: 1, autoscaling_limit_max_cu: 18 },
      { autoscaling_limit_min_cu: 3, autoscaling_limit_max_cu: 2 },
      { suspend_timeout_duration: '300s', no_suspension: true },
      { suspend_timeout_duration: '604801s' },
      { group: { min: 1, max: 2 } },
    ]) {
      const res = await ws.call('POST', `${PROD}/endpoints`, { query: { endpoint_id: 'limits' }, body: { spec: { endpoint_type: 'ENDPOINT_TYPE_READ_ONLY', ...spec } } });
      expect([res.status, res.body.error_code, JSON.stringify(spec)]).toEqual([400, 'INVALID_PARAMETER_VALUE', JSON.stringify(spec)]);
    }
  });

  test('updates: leaf masks, spec.suspension for the oneof, a pending state until the operation is done; disabled means IDLE and no listener', async () => {
    const name = `${PROD}/endpoints/reader`;
    sandbox.databricks.setOperationDelay('endpoint', 3_000);
    const started = await ws.call('PATCH', name, { query: { update_mask: 'spec.autoscaling_limit_max_cu' }, body: { spec: { autoscaling_limit_max_cu: 8 } } });
    expect((await ws.get(name)).body.status).toMatchObject({ autoscaling_limit_max_cu: 8, pending_state: 'ACTIVE' });
    clock.advance(3_000);
    expect(await ws.wait(started)).not.toHaveProperty('status.pending_state');
    sandbox.databricks.setOperationDelay('endpoint', 0);

    let endpoint = await ws.update(name, { spec: { no_suspension: true } }, 'spec.suspension');
    expect(endpoint.status).not.toHaveProperty('suspend_timeout_duration');
    endpoint = await ws.update(name, { spec: { suspend_timeout_duration: '120s' } }, 'spec.suspension');
    expect(endpoint.status.suspend_timeout_duration).toBe('120s');
    expect((await ws.call('PATCH', name, { query: { update_mask: 'spec.suspend_timeout_duration' }, body: { spec: { suspend_timeout_duration: '60s' } } })).body.message).toBe(
      "Unknown field path in update_mask: 'spec.suspend_timeout_duration'",
    );
    expect((await ws.call('PATCH', name, { query: { update_mask: 'spec.endpoint_type' }, body: { spec: { endpoint_type: 'ENDPOINT_TYPE_READ_WRITE' } } })).status).toBe(400);
    endpoint = await ws.update(name, { spec: { settings: { pg_settings: { work_mem: '8MB' } } } }, 'spec.settings.pg_settings');
    expect(endpoint.status.settings).toEqual({ pg_settings: { work_mem: '8MB' } });

    endpoint = await ws.update(name, { spec: { disabled: true } }, 'spec.disabled');
    expect(endpoint.status).toMatchObject({ disabled: true, current_state: 'IDLE' });
    expect(sandbox.databricks.endpointAddress(name)).toBeUndefined();
    await ws.update(name, { spec: { disabled: false } }, 'spec.disabled');
    expect(sandbox.databricks.endpointAddress(name)).toBeDefined();
  });

  test('the read-write endpoint is managed by its branch; a read-only one can be deleted', async () => {
    const primary = await ws.call('DELETE', `${PROD}/endpoints/primary`);
    expect(primary.body).toMatchObject({
      error_code: 'BAD_REQUEST',
      message: `Cannot delete read-write endpoint '${PROD}/endpoints/primary'. Read-write endpoints cannot be deleted.`,
      details: [expect.objectContaining({ metadata: { declarative_context: 'MANAGED_BY_PARENT' } }), expect.anything()],
    });
    await ws.delete(`${PROD}/endpoints/reader`);
    expect((await ws.get(`${PROD}/endpoints/reader`)).status).toBe(404);
    expect(sandbox.databricks.endpointAddress(`${PROD}/endpoints/reader`)).toBeUndefined();
  });
});

describe('roles', () => {
  test('a plain role: password login by default, attributes always reported, a real Postgres role', async () => {
    const role = await ws.create(`${PROD}/roles`, 'role_id', 'etl-role', { spec: { postgres_role: 'etl', attributes: { createrole: true } } });
    expect(role).toEqual({
      name: `${PROD}/roles/etl-role`,
      role_id: 'etl-role',
      parent: PROD,
      create_time: expect.any(String),
      update_time: expect.any(String),
      status: {
        role_id: 'etl-role',
        postgres_role: 'etl',
        identity_type: 'IDENTITY_TYPE_UNSPECIFIED',
        auth_method: 'PG_PASSWORD_SCRAM_SHA_256',
        attributes: { createdb: false, createrole: true, bypassrls: false },
      },
    });
    expect(await sql(PROD, 'SELECT rolcanlogin, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = $1', ['etl'])).toEqual([{ rolcanlogin: true, rolcreaterole: true, rolcreatedb: false }]);

    const managed = await ws.create(`${PROD}/roles`, 'role_id', 'robot', { spec: { postgres_role: '11111111-2222-3333-4444-555555555555', identity_type: 'SERVICE_PRINCIPAL' } });
    expect(managed.status).toMatchObject({ identity_type: 'SERVICE_PRINCIPAL', auth_method: 'LAKEBASE_OAUTH_V1' });
    // Without role_id the server picks one.
    const generated = await ws.wait(await ws.call('POST', `${PROD}/roles`, { body: { spec: { postgres_role: 'reporting_user', auth_method: 'NO_LOGIN' } } }));
    expect(generated.role_id).toBe('reporting-user');
    expect(await sql(PROD, 'SELECT rolcanlogin FROM pg_roles WHERE rolname = $1', ['reporting_user'])).toEqual([{ rolcanlogin: false }]);
  });

  test('bad creates: no body, no postgres_role, bad ids, duplicates (a 400, not a 409)', async () => {
    const post = (body: unknown, query: Record<string, string> = {}) => ws.call('POST', `${PROD}/roles`, { body, query });
    expect((await post({})).body).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE', message: "Field 'role' is required and must contain at least one subfield with a non-default value!" });
    expect((await post({ spec: { attributes: { createdb: true } } })).body.message).toBe(`Field 'role.spec.postgres_role' is required, expected non-default value (not "")!`);
    expect((await post({ spec: { postgres_role: 'x' } }, { role_id: 'abc' })).body.error_code).toBe('INVALID_PARAMETER_VALUE');
    expect((await post({ spec: { postgres_role: 'x' } }, { role_id: 'Bad_Role' })).body.message).toMatch(/^Field role_id must match pattern/);
    expect((await post({ spec: { postgres_role: 'etl' } }, { role_id: 'etl-role' })).body).toMatchObject({ error_code: 'BAD_REQUEST', message: 'role with that name already exists' });
    expect(await post({ spec: { postgres_role: 'etl' } }, { role_id: 'etl-again' })).toMatchObject({ status: 400, body: { message: 'role with that name already exists' } });
    expect((await post({ spec: { postgres_role: 'x', identity_type: 'ROBOT' } })).status).toBe(400);
  });

  test('update masks: only attributes (leaf by leaf) and membership; the rest is refused', async () => {
    const name = `${PROD}/roles/etl-role`;
    let role = await ws.update(name, { spec: { attributes: { createdb: true } } }, 'spec.attributes.createdb');
    expect(role.status.attributes).toEqual({ createdb: true, createrole: true, bypassrls: false });
    role = await ws.update(name, { spec: { membership_roles: ['DATABRICKS_SUPERUSER'] } }, 'spec.membership_roles');
    expect(role.status.membership_roles).toEqual(['DATABRICKS_SUPERUSER']);
    expect(await sql(PROD, "SELECT pg_has_role('etl', 'databricks_superuser', 'MEMBER') AS member, (SELECT rolcreatedb FROM pg_roles WHERE rolname = 'etl') AS createdb")).toEqual([
      { member: true, createdb: true },
    ]);
    role = await ws.update(name, { spec: { membership_roles: [], attributes: { createdb: false, createrole: false, bypassrls: true } } }, 'spec.attributes,spec.membership_roles');
    expect(role.status).not.toHaveProperty('membership_roles');
    expect(role.status.attributes).toEqual({ createdb: false, createrole: false, bypassrls: true });
    for (const path of ['spec.postgres_role', 'spec.auth_method', 'spec.identity_type', 'spec']) {
      const res = await ws.call('PATCH', name, { query: { update_mask: path }, body: { spec: { postgres_role: 'other', auth_method: 'NO_LOGIN', identity_type: 'USER' } } });
      expect(res.body).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE', message: `Unknown field path in update_mask: '${path}'` });
    }
  });

  test("a role that owns a database is dropped only with reassign_owned_to, which hands the database over", async () => {
    await ws.create(`${PROD}/roles`, 'role_id', 'app-owner', { spec: { postgres_role: 'app_owner' } });
    await ws.create(`${PROD}/databases`, 'database_id', 'owned', { spec: { postgres_database: 'owned', role: `${PROD}/roles/app-owner` } });
    expect((await ws.call('DELETE', `${PROD}/roles/app-owner`)).body).toMatchObject({ error_code: 'BAD_REQUEST', message: expect.stringMatching(/owns database/) });
    await ws.delete(`${PROD}/roles/app-owner`, { reassign_owned_to: `${PROD}/roles/etl-role` });
    expect((await ws.get(`${PROD}/roles/app-owner`)).status).toBe(404);
    expect((await ws.get(`${PROD}/databases/owned`)).body.status.role).toBe(`${PROD}/roles/etl-role`);
    expect(await sql(PROD, 'SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1', ['owned'])).toEqual([{ owner: 'etl' }]);
    expect(await sql(PROD, 'SELECT 1 FROM pg_roles WHERE rolname = $1', ['app_owner'])).toEqual([]);
  });
});

describe('databases', () => {
  test('a database is a real one owned by its role; renamed and re-owned by update; dropped by delete', async () => {
    const db = await ws.create(`${PROD}/databases`, 'database_id', 'app-db', { spec: { postgres_database: 'app', role: `${PROD}/roles/etl-role` } });
    expect(db).toEqual({
      name: `${PROD}/databases/app-db`,
      database_id: 'app-db',
      parent: PROD,
      create_time: expect.any(String),
      update_time: expect.any(String),
      status: { database_id: 'app-db', postgres_database: 'app', role: `${PROD}/roles/etl-role` },
    });
    const owner = (name: string) => sql(PROD, 'SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1', [name]);
    expect(await owner('app')).toEqual([{ owner: 'etl' }]);

    const renamed = await ws.update(db.name, { spec: { postgres_database: 'app_v2' } }, 'spec.postgres_database');
    expect(renamed.status.postgres_database).toBe('app_v2');
    expect(await owner('app')).toEqual([]);
    const reowned = await ws.update(db.name, { spec: { role: `${PROD}/roles/pgstacks-sandbox` } }, 'spec.role');
    expect(reowned.status.role).toBe(`${PROD}/roles/pgstacks-sandbox`);
    expect(await owner('app_v2')).toEqual([{ owner: sandbox.databricks.tokenUser }]);
    expect((await ws.call('PATCH', db.name, { query: { update_mask: 'spec.database_id' }, body: { spec: {} } })).status).toBe(400);

    await ws.delete(db.name);
    expect(await owner('app_v2')).toEqual([]);
    expect((await ws.get(db.name)).status).toBe(404);
  });

  test("bad creates: the owner role is required and must exist; ids follow the pattern; names are unique (400)", async () => {
    const post = (body: unknown, query: Record<string, string> = {}) => ws.call('POST', `${PROD}/databases`, { body, query });
    expect((await post({ spec: { postgres_database: 'x', role: '' } })).body.message).toBe(`Field 'database.spec.role' is required, expected non-default value (not "")!`);
    expect((await post({})).body.message).toBe("Field 'database' is required and must contain at least one subfield with a non-default value!");
    const unknownRole = await post({ spec: { postgres_database: 'x', role: `${PROD}/roles/ghost` } });
    expect(unknownRole).toMatchObject({ status: 404, body: { error_code: 'NOT_FOUND', message: expect.stringMatching(/^role not found; role_id:"ghost" \[TraceId: /) } });
    expect((await post({ spec: { postgres_database: 'x', role: `${PROD}/roles/etl-role` } }, { database_id: 'Invalid_DB_ID' })).body).toMatchObject({
      error_code: 'INVALID_PARAMETER_VALUE',
      message: "Field database_id must match pattern ^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$, got 'Invalid_DB_ID'.",
    });
    expect((await post({ spec: { postgres_database: 'databricks_postgres', role: `${PROD}/roles/etl-role` } }, { database_id: 'again' })).body).toMatchObject({
      error_code: 'BAD_REQUEST',
      message: 'database with that name already exists',
    });
    expect((await post({ spec: { postgres_database: 'other', role: `${PROD}/roles/etl-role` } }, { database_id: 'databricks-postgres' })).body.message).toBe('database with that name already exists');
  });
});

describe('one change at a time per branch', () => {
  test("while an operation on a branch runs, other changes to its endpoints, roles and databases are ABORTED; other branches go on", async () => {
    await ws.createBranch('res', 'busy');
    const busy = 'projects/res/branches/busy';
    sandbox.databricks.setOperationDelay('role', 10_000);
    const running = await ws.call('POST', `${busy}/roles`, { query: { role_id: 'slow-role' }, body: { spec: { postgres_role: 'slow' } } });
    expect(running.status).toBe(200);
    const conflict = await ws.call('POST', `${busy}/databases`, { query: { database_id: 'later' }, body: { spec: { postgres_database: 'later', role: `${busy}/roles/slow-role` } } });
    expect(conflict).toEqual({
      status: 409,
      body: {
        error_code: 'ABORTED',
        message: 'Your project already has conflicting operations in progress. Please wait until they are complete, and then try again.',
        details: [expect.objectContaining({ '@type': 'type.googleapis.com/google.rpc.RequestInfo' })],
      },
    });
    expect((await ws.call('PATCH', `${busy}/endpoints/primary`, { query: { update_mask: 'spec.autoscaling_limit_max_cu' }, body: { spec: { autoscaling_limit_max_cu: 2 } } })).status).toBe(409);
    expect((await ws.call('DELETE', `${busy}/roles/slow-role`)).status).toBe(409);
    sandbox.databricks.setOperationDelay('role', 0);
    // Another branch is not held up.
    await ws.create(`${PROD}/roles`, 'role_id', 'elsewhere', { spec: { postgres_role: 'elsewhere' } });
    clock.advance(10_000);
    await ws.wait(running);
    await ws.create(`${busy}/databases`, 'database_id', 'later', { spec: { postgres_database: 'later', role: `${busy}/roles/slow-role` } });
  });

  test('a child branch inherits roles and databases; replace_existing adopts an inherited role', async () => {
    await ws.createBranch('res', 'inherit');
    const child = 'projects/res/branches/inherit';
    const roles = (await ws.get(`${child}/roles`)).body.roles.map((r: { role_id: string }) => r.role_id);
    expect(roles).toEqual(expect.arrayContaining(['pgstacks-sandbox', 'etl-role', 'robot', 'reporting-user', 'elsewhere']));
    expect((await ws.get(`${child}/databases/owned`)).body.status).toEqual({ database_id: 'owned', postgres_database: 'owned', role: `${child}/roles/etl-role` });
    expect((await ws.call('POST', `${child}/roles`, { query: { role_id: 'etl-role' }, body: { spec: { postgres_role: 'etl' } } })).status).toBe(400);
    const adopted = await ws.create(`${child}/roles`, 'role_id', 'etl-role', { spec: { postgres_role: 'etl', attributes: { createdb: true } } }, { replace_existing: true });
    expect(adopted.status.attributes.createdb).toBe(true);
  });
});

describe('catalogs', () => {
  test('a catalog registers a database of a branch once; it has no update', async () => {
    const catalog = await ws.create('catalogs', 'catalog_id', 'lake', { spec: { postgres_database: 'databricks_postgres', branch: PROD } });
    expect(catalog).toEqual({
      name: 'catalogs/lake',
      catalog_id: 'lake',
      uid: expect.any(String),
      create_time: expect.any(String),
      update_time: expect.any(String),
      status: { branch: PROD, postgres_database: 'databricks_postgres', project: 'projects/res' },
    });
    expect((await ws.get('catalogs/lake')).body).toEqual(catalog);
    expect((await ws.call('POST', 'catalogs', { query: { catalog_id: 'lake' }, body: { spec: { postgres_database: 'databricks_postgres', branch: PROD } } })).body.error_code).toBe('ALREADY_EXISTS');
    const twice = await ws.call('POST', 'catalogs', { query: { catalog_id: 'lake2' }, body: { spec: { postgres_database: 'databricks_postgres', branch: PROD } } });
    expect(twice).toMatchObject({ status: 400, body: { error_code: 'BAD_REQUEST', message: expect.stringMatching(/already registered as catalog 'lake'/) } });
    // The same database name of another branch is another database.
    await ws.create('catalogs', 'catalog_id', 'lake-busy', { spec: { postgres_database: 'databricks_postgres', branch: 'projects/res/branches/busy' } });
    expect((await ws.call('POST', 'catalogs', { body: {} })).body.message).toBe(`Field 'catalog_id' is required, expected non-default value (not "")!`);
    expect((await ws.call('POST', 'catalogs', { query: { catalog_id: 'c' }, body: { spec: { postgres_database: 'nope', branch: PROD } } })).status).toBe(404);
    expect((await ws.call('PATCH', 'catalogs/lake', { body: {} })).status).toBe(405);
  });

  test('create_database_if_missing makes the database; delete removes only the registration', async () => {
    await ws.create('catalogs', 'catalog_id', 'fresh', { spec: { postgres_database: 'fresh_db', branch: PROD, create_database_if_missing: true } });
    const databases = (await ws.get(`${PROD}/databases`)).body.databases.map((d: { status: { postgres_database: string } }) => d.status.postgres_database);
    expect(databases).toContain('fresh_db');
    expect(await sql(PROD, 'SELECT datname FROM pg_database WHERE datname = $1', ['fresh_db'])).toHaveLength(1);
    expect(await ws.delete('catalogs/fresh')).toEqual({ '@type': 'type.googleapis.com/google.protobuf.Empty' });
    expect((await ws.get('catalogs/fresh')).body.message).toMatch(/^catalog id not found/);
  });
});

describe('synced tables', () => {
  test('a synced table provisions over time to ONLINE and is a real table keyed by its primary key columns', async () => {
    const created = await ws.create('synced_tables', 'synced_table_id', 'lake.sales.orders', {
      spec: { source_table_full_name: 'main.sales.orders', primary_key_columns: ['order_id', 'line'], scheduling_policy: 'TRIGGERED', new_pipeline_spec: { storage_catalog: 'main', storage_schema: 'tmp' } },
    });
    expect(created).toMatchObject({
      name: 'synced_tables/lake.sales.orders',
      synced_table_id: 'lake.sales.orders',
      uid: expect.any(String),
      status: { detailed_state: 'SYNCED_TABLE_PROVISIONING', unity_catalog_provisioning_state: 'PROVISIONING', project: 'projects/res', pipeline_id: expect.any(String) },
    });
    expect(created).not.toHaveProperty('spec');
    const state = async () => (await ws.get('synced_tables/lake.sales.orders')).body.status.detailed_state;
    clock.advance(15_000);
    expect(await state()).toBe('SYNCED_TABLE_PROVISIONING_PIPELINE_RESOURCES');
    clock.advance(15_000);
    expect(await state()).toBe('SYNCED_TABLE_PROVISIONING_INITIAL_SNAPSHOT');
    clock.advance(30_000);
    expect(await state()).toBe('SYNCED_TABLE_ONLINE_NO_PENDING_UPDATE');
    expect((await ws.get('synced_tables/lake.sales.orders')).body.status).toMatchObject({ unity_catalog_provisioning_state: 'ACTIVE', last_sync_time: expect.any(String) });

    const columns = await sql(PROD, "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'sales' AND table_name = 'orders' ORDER BY ordinal_position", [], 'databricks_postgres');
    expect(columns).toEqual([
      { column_name: 'order_id', data_type: 'text' },
      { column_name: 'line', data_type: 'text' },
      { column_name: '_synced_at', data_type: 'timestamp with time zone' },
    ]);
    const key = await sql(PROD, "SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'sales.orders'::regclass AND contype = 'p'", [], 'databricks_postgres');
    expect(key).toEqual([{ def: 'PRIMARY KEY (order_id, line)' }]);
  });

  test('outside a Lakebase catalog the spec names the branch and database; errors; delete drops the table', async () => {
    const post = (id: string, spec: unknown) => ws.call('POST', 'synced_tables', { query: { synced_table_id: id }, body: { spec } });
    const spec = { source_table_full_name: 'main.crm.customers', primary_key_columns: ['id'], scheduling_policy: 'SNAPSHOT', branch: PROD, postgres_database: 'databricks_postgres' };
    await ws.wait(await post('main.crm.customers', spec));
    clock.advance(60_000);
    expect((await ws.get('synced_tables/main.crm.customers')).body.status.detailed_state).toBe('SYNCED_TABLE_ONLINE');
    expect(await sql(PROD, "SELECT to_regclass('crm.customers') IS NOT NULL AS present", [], 'databricks_postgres')).toEqual([{ present: true }]);

    expect((await post('main.crm.customers', spec)).body.error_code).toBe('ALREADY_EXISTS');
    expect((await post('main.crm', spec)).status).toBe(400);
    expect((await post('main.crm.other', { ...spec, primary_key_columns: [] })).body.message).toBe(`Field 'synced_table.spec.primary_key_columns' is required, expected non-default value (not "")!`);
    expect((await post('main.crm.other', { ...spec, branch: undefined })).body.message).toBe(`Field 'synced_table.spec.branch' is required, expected non-default value (not "")!`);
    expect((await post('main.crm.other', { ...spec, scheduling_policy: 'HOURLY' })).status).toBe(400);

    await ws.delete('synced_tables/main.crm.customers');
    expect((await ws.get('synced_tables/main.crm.customers')).status).toBe(404);
    expect(await sql(PROD, "SELECT to_regclass('crm.customers') IS NOT NULL AS present", [], 'databricks_postgres')).toEqual([{ present: false }]);
  });
});
