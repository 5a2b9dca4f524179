/**
 * Lakebase projects, branches and operations in the Databricks emulator, over HTTP: the wire
 * format (bare bodies, ids in the query, status not spec), long-running operations on the injected
 * clock, implicit children, paging, update masks, soft delete, purge and undelete, and the errors.
 */
import * as fs from 'node:fs';
import { ManualClock, startSandbox, type Sandbox } from '../../src/sandbox';
import { Workspace } from './databricks-support';
import { tempDataDir } from './support';

let sandbox: Sandbox;
let dataDir: string;
let ws: Workspace;
const clock = new ManualClock(Date.UTC(2030, 0, 1));
const DAY = 86_400_000;

beforeAll(async () => {
  dataDir = tempDataDir('databricks-projects');
  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0, clock });
  // A PAT never expires, so the clock can move days ahead.
  ws = new Workspace(sandbox, sandbox.databricks.token);
});

afterAll(async () => {
  await sandbox?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

afterEach(() => sandbox.databricks.setOperationDelay('all', 0));

const requestInfo = { '@type': 'type.googleapis.com/google.rpc.RequestInfo', request_id: expect.any(String), serving_data: '' };

describe('operations', () => {
  test('a create answers a pending operation named below the resource; polling it later gives the resource as GET shows it', async () => {
    sandbox.databricks.setOperationDelay('project', 5_000);
    const started = await ws.call('POST', 'projects', { query: { project_id: 'ops' }, body: { spec: { display_name: 'Ops' } } });
    expect(started).toEqual({
      status: 200,
      body: {
        name: expect.stringMatching(/^projects\/ops\/operations\/[0-9a-f-]{36}$/),
        metadata: { '@type': 'type.googleapis.com/databricks.postgres.v1.ProjectOperationMetadata' },
        done: false,
      },
    });
    clock.advance(4_999);
    expect((await ws.get(started.body.name)).body).toEqual({ ...started.body, done: false });
    // A client that restarts (a new token, a new connection) resumes polling the same operation by name.
    const again = await Workspace.oauth(sandbox);
    clock.advance(1);
    const done = await again.get(started.body.name);
    expect(done.body).toMatchObject({ name: started.body.name, done: true, metadata: started.body.metadata });
    expect(done.body.response).toEqual((await ws.get('projects/ops')).body);
    expect(done.body.response).not.toHaveProperty('spec');
  });

  test('a delete finishes with google.protobuf.Empty; a failed operation carries error and changes nothing', async () => {
    await ws.createProject('short-lived');
    const deleted = await ws.call('DELETE', 'projects/short-lived', { query: { purge: true } });
    expect((await ws.get(deleted.body.name)).body).toEqual({ ...deleted.body, done: true, response: { '@type': 'type.googleapis.com/google.protobuf.Empty' } });

    sandbox.databricks.failNextOperation('project', { errorCode: 'RESOURCE_EXHAUSTED', message: 'quota reached' });
    const failed = await ws.call('POST', 'projects', { query: { project_id: 'doomed' } });
    expect(failed.body.done).toBe(false);
    expect((await ws.get(failed.body.name)).body).toEqual({
      name: failed.body.name,
      metadata: failed.body.metadata,
      done: true,
      error: { error_code: 'RESOURCE_EXHAUSTED', message: 'quota reached', details: [requestInfo] },
    });
    expect((await ws.get('projects/doomed')).status).toBe(404);
  });

  test('a shorter duration finishes operations already running; a longer one changes only later ones', async () => {
    sandbox.databricks.setOperationDelay('project', 60_000);
    const started = await ws.call('POST', 'projects', { query: { project_id: 'cut-short' } });
    expect((await ws.get(started.body.name)).body.done).toBe(false);
    sandbox.databricks.setOperationDelay('project', 0);
    expect((await ws.get(started.body.name)).body.done).toBe(true);
    sandbox.databricks.setOperationDelay('project', 60_000);
    expect((await ws.get(started.body.name)).body.done).toBe(true);
  });

  test('an unknown operation is a 404', async () => {
    const res = await ws.get('projects/ops/operations/00000000-0000-0000-0000-000000000000');
    expect(res).toMatchObject({ status: 404, body: { error_code: 'NOT_FOUND', message: expect.stringMatching(/^operation id not found \[TraceId: /) } });
  });
});

describe('projects', () => {
  test('a new project reports status (never spec) with the service defaults', async () => {
    const project = await ws.createProject('defaults');
    expect(project).toEqual({
      name: 'projects/defaults',
      project_id: 'defaults',
      uid: expect.any(String),
      create_time: new Date(clock.now()).toISOString(),
      update_time: new Date(clock.now()).toISOString(),
      status: {
        project_id: 'defaults',
        display_name: 'defaults',
        pg_version: 17,
        history_retention_duration: '604800s',
        default_endpoint_settings: { autoscaling_limit_min_cu: 1, autoscaling_limit_max_cu: 1, suspend_timeout_duration: '86400s' },
        owner: sandbox.databricks.tokenUser,
        default_branch: 'projects/defaults/branches/production',
        enable_pg_native_login: false,
        branch_logical_size_limit_bytes: 8796093022208,
        synthetic_storage_size_bytes: 0,
      },
    });
  });

  test("implicit children: the production branch, its read-write primary endpoint with the project's settings, the creator's owner role and databricks_postgres", async () => {
    await ws.createProject('kids', {
      pg_version: 16,
      default_endpoint_settings: { autoscaling_limit_min_cu: 0.5, autoscaling_limit_max_cu: 4, suspend_timeout_duration: '300s' },
    });
    const branches = (await ws.get('projects/kids/branches')).body.branches;
    expect(branches).toEqual([
      expect.objectContaining({
        name: 'projects/kids/branches/production',
        branch_id: 'production',
        parent: 'projects/kids',
        uid: expect.stringMatching(/^br-[a-z]+-[a-z]+-[0-9a-f]{8}$/),
        status: expect.objectContaining({ branch_id: 'production', current_state: 'READY', default: true, is_protected: false }),
      }),
    ]);
    const endpoints = (await ws.get('projects/kids/branches/production/endpoints')).body.endpoints;
    expect(endpoints).toHaveLength(1);
    expect(endpoints[0]).toMatchObject({
      name: 'projects/kids/branches/production/endpoints/primary',
      endpoint_id: 'primary',
      uid: expect.stringMatching(/^ep-/),
      status: {
        endpoint_type: 'ENDPOINT_TYPE_READ_WRITE',
        autoscaling_limit_min_cu: 0.5,
        autoscaling_limit_max_cu: 4,
        suspend_timeout_duration: '300s',
        disabled: false,
        hosts: { host: expect.stringMatching(/^127\.\d+\.\d+\.\d+$/) },
      },
    });
    expect(endpoints[0].status.hosts.host).not.toBe('127.0.0.1');
    const roles = (await ws.get('projects/kids/branches/production/roles')).body.roles;
    expect(roles).toEqual([
      expect.objectContaining({
        name: 'projects/kids/branches/production/roles/pgstacks-sandbox',
        role_id: 'pgstacks-sandbox',
        status: {
          role_id: 'pgstacks-sandbox',
          postgres_role: sandbox.databricks.tokenUser,
          identity_type: 'USER',
          auth_method: 'LAKEBASE_OAUTH_V1',
          membership_roles: ['DATABRICKS_SUPERUSER'],
          attributes: { createdb: true, createrole: true, bypassrls: false },
        },
      }),
    ]);
    expect((await ws.get('projects/kids/branches/production/databases')).body.databases).toEqual([
      expect.objectContaining({
        name: 'projects/kids/branches/production/databases/databricks-postgres',
        status: { database_id: 'databricks-postgres', postgres_database: 'databricks_postgres', role: 'projects/kids/branches/production/roles/pgstacks-sandbox' },
      }),
    ]);
  });

  test("a service principal's owner role is sp-<application id>; a user's is the email's local part", async () => {
    const sp = await Workspace.oauth(sandbox);
    await sp.createProject('by-sp');
    const { clientId } = sandbox.databricks.defaultClient;
    expect((await sp.get(`projects/by-sp/branches/production/roles/sp-${clientId}`)).body.status).toMatchObject({ postgres_role: clientId, identity_type: 'SERVICE_PRINCIPAL' });
    expect((await sp.get('projects/by-sp')).body.status.owner).toBe(clientId);

    const jane = new Workspace(sandbox, await sandbox.databricks.addToken('Jane.Doe+test@example.com'));
    await jane.createProject('by-jane');
    expect((await jane.get('projects/by-jane/branches/production/roles/jane-doe-test')).body.status).toMatchObject({ postgres_role: 'Jane.Doe+test@example.com', identity_type: 'USER' });
  });

  test('ids are required and checked; a duplicate is a 409; values out of range are 400s', async () => {
    const missing = await ws.call('POST', 'projects', { body: {} });
    expect(missing).toEqual({ status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE', message: `Field 'project_id' is required, expected non-default value (not "")!`, details: [requestInfo] } });
    const bad = await ws.call('POST', 'projects', { query: { project_id: 'Bad_ID' } });
    expect(bad.body).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE', message: "Field project_id must match pattern ^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$, got 'Bad_ID'." });
    for (const id of ['a-', '1abc', 'a'.repeat(64)]) expect((await ws.call('POST', 'projects', { query: { project_id: id } })).status).toBe(400);

    await ws.createProject('dup');
    expect(await ws.call('POST', 'projects', { query: { project_id: 'dup' } })).toMatchObject({ status: 409, body: { error_code: 'ALREADY_EXISTS' } });

    const invalid = async (spec: unknown) => ws.call('POST', 'projects', { query: { project_id: 'ranges' }, body: { spec } });
    for (const spec of [
      { display_name: 'x'.repeat(257) },
      { display_name: '' },
      { pg_version: 15 },
      { history_retention_duration: '3600s' },
      { history_retention_duration: 'a week' },
      { default_endpoint_settings: { autoscaling_limit_min_cu: 0.25 } },
      { default_endpoint_settings: { autoscaling_limit_min_cu: 4, autoscaling_limit_max_cu: 2 } },
      { default_endpoint_settings: { suspend_timeout_duration: '30s' } },
      { default_endpoint_settings: { suspend_timeout_duration: '300s', no_suspension: true } },
    ]) {
      const res = await invalid(spec);
      expect([res.status, res.body.error_code, JSON.stringify(spec)]).toEqual([400, 'INVALID_PARAMETER_VALUE', JSON.stringify(spec)]);
    }
    expect((await ws.get('projects/ranges')).status).toBe(404);
  });

  test('lists page with page_size and next_page_token', async () => {
    const all: string[] = [];
    let token: string | undefined;
    do {
      const res = await ws.call('GET', 'projects', { query: { page_size: 2, ...(token ? { page_token: token } : {}) } });
      expect(res.status).toBe(200);
      expect(res.body.projects.length).toBeLessThanOrEqual(2);
      all.push(...res.body.projects.map((p: { project_id: string }) => p.project_id));
      token = res.body.next_page_token;
    } while (token);
    const unpaged = (await ws.get('projects')).body;
    expect(unpaged).not.toHaveProperty('next_page_token');
    expect(all).toEqual(unpaged.projects.map((p: { project_id: string }) => p.project_id));
    expect(all.length).toBeGreaterThan(4);
    expect((await ws.call('GET', 'projects', { query: { page_token: 'garbage' } })).body.error_code).toBe('INVALID_PARAMETER_VALUE');
    expect((await ws.call('GET', 'projects', { query: { page_size: -1 } })).status).toBe(400);
    // Larger sizes are capped at 100.
    expect((await ws.call('GET', 'projects', { query: { page_size: 1000 } })).status).toBe(200);
  });

  test('update masks: leaf, comma-joined (percent-encoded), virtual and coarse paths; unknown and missing paths refused', async () => {
    await ws.createProject('masks', { custom_tags: [{ key: 'team', value: 'data' }] });
    const patch = (mask: string, spec: unknown) => ws.call('PATCH', 'projects/masks', { query: { update_mask: mask }, body: { spec } });

    let project = await ws.wait(await patch('spec.display_name,spec.history_retention_duration', { display_name: 'Masks', history_retention_duration: '172800s' }));
    expect(project.status).toMatchObject({ display_name: 'Masks', history_retention_duration: '172800s' });

    project = await ws.wait(await patch('spec.default_endpoint_settings.suspension', { default_endpoint_settings: { no_suspension: true } }));
    expect(project.status.default_endpoint_settings).toEqual({ autoscaling_limit_min_cu: 1, autoscaling_limit_max_cu: 1, no_suspension: true });
    project = await ws.wait(await patch('spec.project_default_settings.suspension', { default_endpoint_settings: { suspend_timeout_duration: '600s' } }));
    expect(project.status.default_endpoint_settings.suspend_timeout_duration).toBe('600s');

    // `spec` changes what the body sets and leaves the rest.
    project = await ws.wait(await patch('spec', { display_name: 'Coarse', pg_version: 17 }));
    expect(project.status).toMatchObject({ display_name: 'Coarse', history_retention_duration: '172800s', custom_tags: [{ key: 'team', value: 'data' }] });
    project = await ws.wait(await patch('spec.custom_tags', { custom_tags: [] }));
    expect(project.status).not.toHaveProperty('custom_tags');

    expect((await patch('spec.pg_version', { pg_version: 16 })).body).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE', message: "Unknown field path in update_mask: 'spec.pg_version'" });
    expect((await patch('spec.default_endpoint_settings.no_suspension', {})).body.message).toBe("Unknown field path in update_mask: 'spec.default_endpoint_settings.no_suspension'");
    expect((await patch('spec.display_name', { history_retention_duration: '172800s' })).body).toMatchObject({
      error_code: 'INVALID_PARAMETER_VALUE',
      message: "Field 'spec.display_name' is in update_mask but not provided in request",
    });
    expect((await patch('spec', { pg_version: 16 })).status).toBe(400);
    // The SDKs percent-encode the comma.
    const encoded = await ws.call('PATCH', 'projects/masks?update_mask=spec.display_name%2Cspec.enable_pg_native_login', { body: { spec: { display_name: 'Enc', enable_pg_native_login: true } } });
    expect((await ws.wait(encoded)).status).toMatchObject({ display_name: 'Enc', enable_pg_native_login: true });
  });

  test('soft delete hides a project until show_deleted; undelete restores it; purge and retention remove it for good', async () => {
    await ws.createProject('soft');
    await ws.delete('projects/soft');
    const deleted = (await ws.get('projects/soft')).body;
    expect(deleted.delete_time).toBe(new Date(clock.now()).toISOString());
    expect(Date.parse(deleted.purge_time)).toBe(clock.now() + 7 * DAY);
    const names = async (query = {}) => (await ws.call('GET', 'projects', { query })).body.projects.map((p: { name: string }) => p.name);
    expect(await names()).not.toContain('projects/soft');
    expect(await names({ show_deleted: true })).toContain('projects/soft');
    expect((await ws.call('POST', 'projects', { query: { project_id: 'soft' } })).status).toBe(409);
    expect((await ws.get('projects/soft/branches')).status).toBe(404);

    const restored = await ws.wait(await ws.call('POST', 'projects/soft/undelete', { body: {} }));
    expect(restored).not.toHaveProperty('delete_time');
    expect(await names()).toContain('projects/soft');
    expect((await ws.call('POST', 'projects/soft/undelete', { body: {} })).body.error_code).toBe('BAD_REQUEST');

    await ws.delete('projects/soft');
    clock.advance(7 * DAY);
    expect((await ws.get('projects/soft')).status).toBe(404);

    await ws.createProject('purged');
    await ws.delete('projects/purged', { purge: true });
    expect((await ws.get('projects/purged')).status).toBe(404);
    expect(await names({ show_deleted: true })).not.toContain('projects/purged');
    expect((await ws.call('DELETE', 'projects/purged')).status).toBe(404);
  });
});

describe('branches', () => {
  beforeAll(async () => {
    await ws.createProject('tree');
  });

  test('a new branch starts from the default branch; it is INIT until its operation finishes', async () => {
    sandbox.databricks.setOperationDelay('branch', 10_000);
    const started = await ws.call('POST', 'projects/tree/branches', { query: { branch_id: 'dev' }, body: { spec: { no_expiry: true } } });
    expect(started.body).toMatchObject({ name: expect.stringMatching(/^projects\/tree\/branches\/dev\/operations\//), done: false });
    expect((await ws.get('projects/tree/branches/dev')).body.status).toMatchObject({ current_state: 'INIT', pending_state: 'READY' });
    clock.advance(10_000);
    const branch = await ws.wait(started);
    expect(branch).toEqual({
      name: 'projects/tree/branches/dev',
      branch_id: 'dev',
      parent: 'projects/tree',
      uid: expect.stringMatching(/^br-/),
      create_time: expect.any(String),
      update_time: expect.any(String),
      status: {
        branch_id: 'dev',
        current_state: 'READY',
        state_change_time: expect.any(String),
        default: false,
        is_protected: false,
        logical_size_bytes: 0,
        source_branch: 'projects/tree/branches/production',
        source_branch_lsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/),
        source_branch_time: expect.any(String),
      },
    });
    // Each branch has its own primary endpoint, its source's roles and databases.
    expect((await ws.get('projects/tree/branches/dev/endpoints')).body.endpoints.map((e: { name: string }) => e.name)).toEqual(['projects/tree/branches/dev/endpoints/primary']);
    expect((await ws.get('projects/tree/branches/dev/roles')).body.roles.map((r: { role_id: string }) => r.role_id)).toEqual(['pgstacks-sandbox']);
    expect((await ws.get('projects/tree/branches/dev/databases')).body.databases[0].status.role).toBe('projects/tree/branches/dev/roles/pgstacks-sandbox');
  });

  test('a branch of a branch names its source; another creator gets an owner role of its own there', async () => {
    const sp = await Workspace.oauth(sandbox);
    const child = await sp.createBranch('tree', 'feature', { source_branch: 'projects/tree/branches/dev', ttl: '3600s' });
    expect(child.status).toMatchObject({ source_branch: 'projects/tree/branches/dev', expire_time: new Date(clock.now() + 3_600_000).toISOString() });
    const roles = (await ws.get('projects/tree/branches/feature/roles')).body.roles.map((r: { role_id: string }) => r.role_id);
    expect(roles).toEqual(['pgstacks-sandbox', `sp-${sandbox.databricks.defaultClient.clientId}`]);
    expect((await ws.call('POST', 'projects/tree/branches', { query: { branch_id: 'x' }, body: { spec: { source_branch: 'projects/tree/branches/nope' } } })).status).toBe(404);
  });

  test('branch ids are required and unique; replace_existing adopts the existing branch in place', async () => {
    expect((await ws.call('POST', 'projects/tree/branches', { body: { spec: { no_expiry: true } } })).body.message).toBe(`Field 'branch_id' is required, expected non-default value (not "")!`);
    expect(await ws.call('POST', 'projects/tree/branches', { query: { branch_id: 'dev' }, body: { spec: { no_expiry: true } } })).toMatchObject({ status: 409, body: { error_code: 'ALREADY_EXISTS' } });
    const adopted = await ws.create('projects/tree/branches', 'branch_id', 'production', { spec: { is_protected: true, no_expiry: true } }, { replace_existing: true });
    expect(adopted.status).toMatchObject({ default: true, is_protected: true });
    expect(adopted.uid).toBe((await ws.get('projects/tree/branches/production')).body.uid);
    await ws.update('projects/tree/branches/production', { spec: { is_protected: false } }, 'spec.is_protected');
  });

  test('expiry: exactly one of ttl, expire_time, no_expiry; updates go through spec.expiration; an expired branch is deleted', async () => {
    const bad = async (spec: unknown) => (await ws.call('POST', 'projects/tree/branches', { query: { branch_id: 'exp' }, body: { spec } })).body;
    expect(await bad({ ttl: '60s', no_expiry: true })).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE', message: expect.stringMatching(/Only one of/) });
    expect((await bad({ no_expiry: false })).error_code).toBe('INVALID_PARAMETER_VALUE');
    expect((await bad({ expire_time: '2000-01-01T00:00:00Z' })).error_code).toBe('INVALID_PARAMETER_VALUE');

    await ws.createBranch('tree', 'exp', { ttl: '7200s' });
    expect((await ws.call('PATCH', 'projects/tree/branches/exp', { query: { update_mask: 'spec.ttl' }, body: { spec: { ttl: '60s' } } })).body.message).toBe("Unknown field path in update_mask: 'spec.ttl'");
    let branch = await ws.update('projects/tree/branches/exp', { spec: { no_expiry: true } }, 'spec.expiration');
    expect(branch.status).not.toHaveProperty('expire_time');
    branch = await ws.update('projects/tree/branches/exp', { spec: { ttl: '60s' } }, 'spec.expiration');
    expect(branch.status.expire_time).toBe(new Date(clock.now() + 60_000).toISOString());
    clock.advance(60_000);
    const list = (await ws.get('projects/tree/branches')).body.branches.map((b: { branch_id: string }) => b.branch_id);
    expect(list).not.toContain('exp');
    expect((await ws.get('projects/tree/branches/exp')).body.status).toMatchObject({ current_state: 'DELETED', delete_time: expect.any(String) });
  });

  test('the root branch is managed by its project; protected and default branches refuse deletes', async () => {
    const root = await ws.call('DELETE', 'projects/tree/branches/production');
    expect(root).toEqual({
      status: 400,
      body: {
        error_code: 'BAD_REQUEST',
        message: "Cannot delete root branch 'projects/tree/branches/production'. Root branches cannot be deleted independently.",
        details: [
          { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'RESOURCE_CONFLICT', domain: 'databricks.com', metadata: { declarative_context: 'MANAGED_BY_PARENT' } },
          requestInfo,
        ],
      },
    });
    await ws.createBranch('tree', 'guarded', { is_protected: true, no_expiry: true });
    expect((await ws.call('DELETE', 'projects/tree/branches/guarded')).body).toMatchObject({ error_code: 'BAD_REQUEST', message: 'cannot delete protected branch' });
    expect((await ws.call('DELETE', 'projects/tree')).body).toMatchObject({ error_code: 'BAD_REQUEST', message: expect.stringMatching(/protected/) });
    await ws.update('projects/tree/branches/guarded', { spec: { is_protected: false } }, 'spec.is_protected');

    // Switching the default branch moves `default`; the default branch cannot be deleted.
    await ws.update('projects/tree', { spec: { default_branch: 'projects/tree/branches/guarded' } }, 'spec.default_branch');
    expect((await ws.get('projects/tree/branches/guarded')).body.status.default).toBe(true);
    expect((await ws.get('projects/tree/branches/production')).body.status.default).toBe(false);
    expect((await ws.call('DELETE', 'projects/tree/branches/guarded')).status).toBe(400);
    await ws.update('projects/tree', { spec: { default_branch: 'projects/tree/branches/production' } }, 'spec.default_branch');
    expect((await ws.call('PATCH', 'projects/tree', { query: { update_mask: 'spec.default_branch' }, body: { spec: { default_branch: 'projects/tree/branches/nope' } } })).status).toBe(404);
  });

  test('delete: soft with undelete, purge, allow_missing', async () => {
    await ws.createBranch('tree', 'gone');
    await ws.delete('projects/tree/branches/gone');
    expect((await ws.call('GET', 'projects/tree/branches', { query: { show_deleted: true } })).body.branches.map((b: { branch_id: string }) => b.branch_id)).toContain('gone');
    await ws.wait(await ws.call('POST', 'projects/tree/branches/gone/undelete', { body: {} }));
    expect((await ws.get('projects/tree/branches/gone')).body.status.current_state).toBe('READY');
    await ws.delete('projects/tree/branches/gone', { purge: true });
    expect((await ws.get('projects/tree/branches/gone')).status).toBe(404);
    expect((await ws.call('DELETE', 'projects/tree/branches/gone')).status).toBe(404);
    expect(await ws.delete('projects/tree/branches/gone', { allow_missing: true })).toEqual({ '@type': 'type.googleapis.com/google.protobuf.Empty' });
  });

  test('lookups check the parent chain first', async () => {
    expect((await ws.get('projects/nope/branches/dev')).body.message).toMatch(/^project id not found \[TraceId: [0-9a-f-]+\]$/);
    expect((await ws.get('projects/tree/branches/nope')).body.message).toMatch(/^branch id not found/);
    expect((await ws.get('projects/nope/branches/dev/endpoints/primary')).body.message).toMatch(/^project id not found/);
    expect((await ws.get('projects/tree/branches/nope/roles')).body.message).toMatch(/^branch id not found/);
    expect((await ws.get('projects/tree/branches/dev/databases/nope')).body).toMatchObject({ error_code: 'NOT_FOUND', message: expect.stringMatching(/^database id not found/) });
  });
});
