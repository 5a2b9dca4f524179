/** Synth of the Lakebase constructs: names built from parents, references, defaults and the id rules. */
import { TerraformStack, Testing } from 'cdktf';
import {
  DatabricksAuth,
  DatabricksWorkspace,
  Duration,
  LakebaseBranch,
  LakebaseCatalog,
  LakebaseCredential,
  LakebaseDatabase,
  LakebaseEndpoint,
  LakebaseProject,
  LakebaseRole,
  LakebaseSyncedTable,
  Secret,
} from '../../index';
import { lifecycleSpecs } from '../support/lifecycle-specs';

function build(fn: (stack: TerraformStack, project: LakebaseProject) => void): Record<string, any> {
  const app = Testing.app();
  const stack = new TerraformStack(app, 'lakebase');
  const workspace = new DatabricksWorkspace(stack, 'ws', {
    host: 'https://acme.cloud.databricks.com/',
    auth: DatabricksAuth.oauthM2M({ clientId: 'deployer-app', clientSecret: Secret.fromEnv('DATABRICKS_CLIENT_SECRET') }),
  });
  const project = new LakebaseProject(stack, 'app', { workspace, projectId: 'app', defaultEndpointSettings: { minCu: 0.5, maxCu: 2, suspendTimeout: Duration.minutes(5) } });
  fn(stack, project);
  const text = Testing.synth(stack);
  expect(text).not.toContain('"DATABRICKS_CLIENT_SECRET":'); // only the name travels, as a marker
  const resources = JSON.parse(text).resource.terraform_data;
  return lifecycleSpecs(resources);
}

const ref = (resource: string, attribute = 'name') => ({ $ref: { resource, attribute } });

test('the workspace is declared once; parents are referenced by construct, so the engine orders them', () => {
  const r = build((stack, project) => {
    const dev = new LakebaseBranch(stack, 'dev', { project, branchId: 'dev', ttl: Duration.days(7) });
    const ep = new LakebaseEndpoint(stack, 'dev-ep', { branch: dev, endpointId: 'primary', minCu: 0.5, maxCu: 4 });
    const role = new LakebaseRole(stack, 'dev-role', { branch: dev, roleId: 'team-a', postgresRole: 'team_a' });
    const db = new LakebaseDatabase(stack, 'dev-db', { branch: dev, databaseId: 'orders-db', owner: role });
    new LakebaseCatalog(stack, 'cat', { database: db, catalogId: 'orders_cat' });
    new LakebaseCredential(stack, 'login', { endpoint: ep });
  });
  expect(r.ws.props).toEqual({ host: 'https://acme.cloud.databricks.com', auth: { clientId: 'deployer-app', clientSecret: { $secret: { fromEnv: 'DATABRICKS_CLIENT_SECRET' } } } });
  expect(r.app).toMatchObject({ type: 'databricks:lakebase-project', removalPolicy: 'retain' });
  expect(r.app.props).toEqual({
    workspace: { $connection: 'ws' },
    projectId: 'app',
    displayName: 'app',
    defaultEndpointSettings: { minCu: 0.5, maxCu: 2, suspendTimeoutSeconds: 300 },
  });
  expect(r.dev.props).toEqual({ workspace: { $connection: 'ws' }, project: ref('app'), branchId: 'dev', ttlSeconds: 604800 });
  expect(r.dev.removalPolicy).toBe('retain');
  expect(r['dev-ep'].props).toMatchObject({ branch: ref('dev'), endpointId: 'primary', endpointType: 'READ_WRITE', minCu: 0.5, maxCu: 4 });
  expect(r['dev-ep'].removalPolicy).toBe('destroy');
  expect(r['dev-db'].props).toMatchObject({ branch: ref('dev'), databaseId: 'orders-db', postgresDatabase: 'orders_db', role: ref('dev-role') });
  expect(r.cat.props).toMatchObject({ branch: ref('dev'), postgresDatabase: ref('dev-db', 'postgresDatabase'), catalogId: 'orders_cat' });
  expect(r.login.props).toMatchObject({ endpoint: ref('dev-ep') });
});

test('ids are checked at synth with the rule quoted', () => {
  expect(() => build((stack, project) => new LakebaseBranch(stack, 'b', { project, branchId: 'Dev_1' }))).toThrow(
    /Invalid props for LakebaseBranch at 'lakebase\/b':\n {2}- branchId = "Dev_1": must match \^\[a-z\]/,
  );
  expect(() => build((stack, project) => {
    const b = new LakebaseBranch(stack, 'b', { project, branchId: 'dev' });
    new LakebaseRole(stack, 'r', { branch: b, roleId: 'abc', postgresRole: 'abc' });
  })).toThrow(/roleId = "abc": must be 4-63 characters/);
  expect(() => build((stack, project) => new LakebaseBranch(stack, 'b', { project, branchId: 'x'.repeat(64) }))).toThrow(/branchId = "x{64}": must be 1-63 characters/);
});

test('value ranges and exclusive choices are checked at synth', () => {
  expect(() => build((stack, project) => {
    const b = new LakebaseBranch(stack, 'b', { project, branchId: 'dev' });
    new LakebaseEndpoint(stack, 'e', { branch: b, endpointId: 'ro', minCu: 0.25, maxCu: 40 });
  })).toThrow(/minCu = 0.25: must be at least 0.5 CU/);
  expect(() => build((stack, project) => {
    const b = new LakebaseBranch(stack, 'b', { project, branchId: 'dev' });
    new LakebaseEndpoint(stack, 'e', { branch: b, endpointId: 'ro', minCu: 1, maxCu: 20 });
  })).toThrow(/maxCu = 20: maxCu - minCu must be at most 16 CU/);
  expect(() => build((stack, project) => new LakebaseBranch(stack, 'b', { project, branchId: 'dev', ttl: Duration.days(1), expireTime: '2030-01-01T00:00:00Z' }))).toThrow(/give ttlSeconds or expireTime, not both/);
});

test('a synced table names its catalog', () => {
  expect(() => build((stack, project) => {
    const b = new LakebaseBranch(stack, 'b', { project, branchId: 'dev' });
    const owner = LakebaseRole.fromRoleId(stack, 'owner', { branch: b, roleId: 'sp-deployer-app', postgresRole: 'deployer-app' });
    const db = new LakebaseDatabase(stack, 'db', { branch: b, databaseId: 'shop-db', owner });
    const catalog = new LakebaseCatalog(stack, 'cat', { database: db, catalogId: 'shop' });
    new LakebaseSyncedTable(stack, 't', { database: db, catalog, syncedTableId: 'other.public.orders', sourceTableFullName: 'main.sales.orders', primaryKeyColumns: ['id'], schedulingPolicy: 'SNAPSHOT' });
  })).toThrow("syncedTableId = 'other.public.orders' is not in catalog 'shop'");
});

test('a per-resource timeout travels in the spec', () => {
  const r = build((stack, project) => new LakebaseBranch(stack, 'b', { project, branchId: 'dev', timeout: Duration.minutes(45) }));
  expect(r.b.timeoutSeconds).toBe(2700);
});
