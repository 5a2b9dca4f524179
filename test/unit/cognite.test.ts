/** Synth of the Cognite constructs: their specs, references and validation errors. */
import { TerraformStack, Testing } from 'cdktf';
import { CogniteAuth, CogniteProject, GatewayRawTable, GatewayUser, GatewayViewTable, Secret, type GatewayRawTableProps } from '../../index';
import { lifecycleSpecs } from '../support/lifecycle-specs';

function build(fn: (stack: TerraformStack, project: CogniteProject) => void): any {
  const app = Testing.app();
  const stack = new TerraformStack(app, 'cdf');
  const project = new CogniteProject(stack, 'acme', {
    cluster: 'westeurope-1',
    project: 'acme',
    auth: CogniteAuth.entraId({ tenantId: 'tenant-1', clientId: 'deployer', clientSecret: Secret.fromEnv('CDF_CLIENT_SECRET') }),
  });
  fn(stack, project);
  const resources = JSON.parse(Testing.synth(stack)).resource.terraform_data;
  return lifecycleSpecs(resources);
}

const columns: GatewayRawTableProps['columns'] = [
  { name: 'id', type: 'TEXT' },
  { name: 'pressure', type: 'DOUBLE PRECISION' },
];

test('the project is declared once; a gateway user refers to it and takes its credentials for the session', () => {
  const resources = build((stack, project) => new GatewayUser(stack, 'adf', { project }));
  expect(resources.acme.connection).toBe('acme');
  expect(resources.acme.props).toEqual({
    baseUrl: 'https://westeurope-1.cognitedata.com',
    project: 'acme',
    tokenUrl: 'https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token',
    scopes: ['https://westeurope-1.cognitedata.com/.default'],
    credentials: { clientId: 'deployer', clientSecret: { $secret: { fromEnv: 'CDF_CLIENT_SECRET' } } },
  });
  const { props, ...rest } = resources.adf;
  expect(rest).toEqual({ type: 'cognite:gateway-user', id: 'adf', removalPolicy: 'destroy' });
  expect(props).toEqual({
    project: { $connection: 'acme' },
    session: { clientId: 'deployer', clientSecret: { $secret: { fromEnv: 'CDF_CLIENT_SECRET' } } },
  });
});

test('a project from another stack is refused', () => {
  const app = Testing.app();
  const one = new TerraformStack(app, 'one');
  const project = new CogniteProject(one, 'acme', { cluster: 'westeurope-1', project: 'acme', auth: CogniteAuth.entraId({ tenantId: 't', clientId: 'd', clientSecret: Secret.fromEnv('S') }) });
  expect(() => new GatewayUser(new TerraformStack(app, 'two'), 'adf', { project })).toThrow('two: uses one/acme, which is in another stack');
});

test('separate session credentials and a sandbox base URL', () => {
  const resources = build((stack) => {
    const sandbox = new CogniteProject(stack, 'sandbox', {
      project: 'demo',
      baseUrl: 'http://127.0.0.1:4610/cognite/',
      auth: CogniteAuth.clientCredentials({ tokenUrl: 'http://127.0.0.1:4610/login/sandbox/oauth2/v2.0/token', clientId: 'a', clientSecret: Secret.fromEnv('A'), scopes: ['x'] }),
    });
    new GatewayUser(stack, 'etl', { project: sandbox, credentials: { clientId: 'etl-app', clientSecret: Secret.fromEnv('ETL_SECRET') } });
  });
  expect(resources.sandbox.props).toMatchObject({ baseUrl: 'http://127.0.0.1:4610/cognite', scopes: ['x'] });
  expect(resources.etl.props.project).toEqual({ $connection: 'sandbox' });
  expect(resources.etl.props.session).toEqual({ clientId: 'etl-app', clientSecret: { $secret: { fromEnv: 'ETL_SECRET' } } });
});

test('tables reference their user: the engine orders them after it and re-resolves them with it', () => {
  const resources = build((stack, project) => {
    const user = new GatewayUser(stack, 'adf', { project });
    new GatewayRawTable(stack, 'pumps', { user, tablename: 'pumps', rawDatabase: 'ingest', rawTable: 'pumps', primaryKey: 'id', columns });
    new GatewayViewTable(stack, 'assets', { user, tablename: 'my_assets', view: { space: 'plant', externalId: 'Pump', version: 'v1' } });
  });
  expect(resources.pumps.props).toMatchObject({
    username: { $ref: { resource: 'adf', attribute: 'username' } },
    tablename: 'pumps',
    rawDatabase: 'ingest',
    rawTable: 'pumps',
    primaryKey: 'id',
    columns: [{ name: 'id', type: 'TEXT' }, { name: 'pressure', type: 'DOUBLE PRECISION' }],
  });
  expect(resources.assets.props.view).toEqual({ space: 'plant', externalId: 'Pump', version: 'v1' });
});

describe('validation at synth', () => {
  const table = (props: Partial<GatewayRawTableProps>) => () =>
    build((stack, project) => {
      const user = new GatewayUser(stack, 'adf', { project });
      new GatewayRawTable(stack, 'bad', { user, tablename: 'pumps', rawDatabase: 'ingest', rawTable: 'pumps', columns, ...props });
    });

  test('a built-in table name', () => {
    expect(table({ tablename: 'assets' })).toThrow(
      `Invalid props for GatewayRawTable at 'cdf/bad':\n  - tablename = "assets": is the name of a built-in gateway table; choose another (built-ins: assets, events,`,
    );
  });

  test('a table name over 60 characters, and an empty one', () => {
    expect(table({ tablename: 'x'.repeat(61) })).toThrow(`tablename = "${'x'.repeat(61)}": must be 1-60 characters`);
    expect(table({ tablename: '' })).toThrow(/tablename = "": must be 1-60 characters/);
  });

  test('a column type that is not one of the 16', () => {
    expect(table({ columns: [{ name: 'id', type: 'INTEGER' as never }] })).toThrow(
      /columns\.0\.type = "INTEGER": Invalid option: expected one of "TEXT"\|"VARCHAR"\|"BOOL"\|"BIGINT"\|"DOUBLE PRECISION"/,
    );
  });

  test('a primary key that is not a column, and a column declared twice', () => {
    expect(table({ primaryKey: 'key' })).toThrow(`primaryKey = "key": must be one of the columns (id, pressure)`);
    expect(table({ columns: [...columns, { name: 'id', type: 'BIGINT' }] })).toThrow(`columns.2.name = "id": 'id' is declared twice`);
  });

  test('no columns', () => {
    expect(table({ columns: [] })).toThrow('columns = []: needs at least one column');
  });

  test('a project without cluster or base URL, a bad project name, a bad cluster', () => {
    const project = (props: object) => () =>
      new CogniteProject(new TerraformStack(Testing.app(), 's'), 'p', {
        project: 'acme',
        auth: CogniteAuth.entraId({ tenantId: 't', clientId: 'c', clientSecret: Secret.fromEnv('S') }),
        ...props,
      });
    expect(project({})).toThrow("CogniteProject at 's/p':\n  - cluster = (missing): give the CDF cluster (e.g. westeurope-1) or a baseUrl");
    expect(project({ cluster: 'westeurope-1', project: 'Acme Corp' })).toThrow('project = "Acme Corp": expected a CDF project URL name');
    expect(project({ cluster: 'https://westeurope-1.cognitedata.com' })).toThrow('cluster = "https://westeurope-1.cognitedata.com": expected a cluster name such as westeurope-1');
    expect(project({ baseUrl: 'ftp://x' })).toThrow('baseUrl = "ftp://x": expected an http(s) URL');
  });
});
