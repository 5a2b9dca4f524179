/** Synth of the Atlan constructs: the tenant connection, the crawler's spec and defaults, and what is refused at synth. */
import { TerraformStack, Testing } from 'cdktf';
import {
  AtlanTenant,
  DatabricksAuth,
  DatabricksWorkspace,
  Duration,
  LakebaseBranch,
  LakebaseCredential,
  LakebaseEndpoint,
  LakebaseProject,
  PostgresCrawler,
  PostgresIamAuth,
  RemovalPolicy,
  Secret,
  type PostgresCrawlerProps,
} from '../../index';
import { lifecycleSpecs } from '../support/lifecycle-specs';

type Build = (stack: TerraformStack, tenant: AtlanTenant) => void;

function synth(fn: Build): { text: string; resources: Record<string, any> } {
  const app = Testing.app();
  const stack = new TerraformStack(app, 'catalog');
  const tenant = new AtlanTenant(stack, 'atlan', { baseUrl: 'https://acme.atlan.com/', apiKey: Secret.fromEnv('ATLAN_API_KEY') });
  fn(stack, tenant);
  const text = Testing.synth(stack);
  const resources = JSON.parse(text).resource.terraform_data;
  return {
    text,
    resources: lifecycleSpecs(resources),
  };
}

const build = (fn: Build) => synth(fn).resources;

const basic = (overrides: Partial<PostgresCrawlerProps> = {}) => (stack: TerraformStack, tenant: AtlanTenant) =>
  new PostgresCrawler(stack, 'crawler', {
    tenant,
    connectionName: 'production',
    admins: { roles: ['$admin'] },
    host: 'pg.example.com',
    database: 'demo_db',
    username: 'atlan',
    password: Secret.fromEnv('PG_PASSWORD'),
    ...overrides,
  });

test('the tenant is declared once; the crawler refers to it; defaults are written out; no secret value is synthesized', () => {
  process.env.PG_PASSWORD = 'do-not-synthesize-me';
  const { text, resources: r } = synth(basic({ include: { demo_db: ['demo'] }, excludeRegex: '.*_TEST' }));
  expect(text).not.toContain('do-not-synthesize-me');
  expect(r.atlan.props).toEqual({ baseUrl: 'https://acme.atlan.com', apiKey: { $secret: { fromEnv: 'ATLAN_API_KEY' } }, api: 'auto' });
  expect(r.crawler).toMatchObject({ type: 'atlan:postgres-crawler', removalPolicy: 'destroy' });
  expect(r.crawler.props).toEqual({
    tenant: { $connection: 'atlan' },
    connectionName: 'production',
    admins: { roles: ['$admin'] },
    rowLimit: 10000,
    allowQuery: true,
    allowQueryPreview: true,
    source: { extraction: 'direct', host: 'pg.example.com', port: 5432, database: 'demo_db', auth: { type: 'basic', username: 'atlan', password: { $secret: { fromEnv: 'PG_PASSWORD' } } } },
    include: { demo_db: ['demo'] },
    excludeRegex: '.*_TEST',
    sourceLevelFiltering: false,
    jdbcInternalMethods: true,
    runOnDeploy: 'on-change',
    deleteConnection: false,
  });
  delete process.env.PG_PASSWORD;
});

test('removal: the default destroys the workflow and keeps the connection; only an explicit DESTROY deletes the connection', () => {
  expect(build(basic()).crawler).toMatchObject({ removalPolicy: 'destroy', props: { deleteConnection: false } });
  expect(build(basic({ removalPolicy: RemovalPolicy.DESTROY })).crawler).toMatchObject({ removalPolicy: 'destroy', props: { deleteConnection: true } });
  expect(build(basic({ removalPolicy: RemovalPolicy.RETAIN })).crawler).toMatchObject({ removalPolicy: 'retain', props: { deleteConnection: false } });
  expect(build(basic({ timeout: Duration.hours(2) })).crawler.timeoutSeconds).toBe(7200);
});

test('host, username and password take Lakebase references: the engine orders the crawler after them', () => {
  const r = build((stack, tenant) => {
    const workspace = new DatabricksWorkspace(stack, 'ws', { host: 'https://acme.cloud.databricks.com', auth: DatabricksAuth.token(Secret.fromEnv('DATABRICKS_TOKEN')) });
    const project = new LakebaseProject(stack, 'project', { workspace, projectId: 'shop' });
    const branch = new LakebaseBranch(stack, 'branch', { project, branchId: 'production' });
    const endpoint = new LakebaseEndpoint(stack, 'endpoint', { branch, endpointId: 'primary' });
    const login = new LakebaseCredential(stack, 'login', { endpoint });
    new PostgresCrawler(stack, 'crawler', {
      tenant,
      connectionName: 'shop',
      admins: { groups: ['admins'], users: ['jdoe'] },
      host: endpoint.host,
      database: 'databricks_postgres',
      username: login.username,
      password: login.password,
      runOnDeploy: 'always',
    });
  });
  expect(r.crawler.props.source).toEqual({
    extraction: 'direct',
    host: { $ref: { resource: 'endpoint', attribute: 'host' } },
    port: 5432,
    database: 'databricks_postgres',
    auth: { type: 'basic', username: { $ref: { resource: 'login', attribute: 'username' } }, password: { $ref: { resource: 'login', attribute: 'password' } } },
  });
  expect(r.crawler.props).toMatchObject({ admins: { groups: ['admins'], users: ['jdoe'] }, runOnDeploy: 'always' });
});

test('IAM authentication and offline extraction', () => {
  const iamUser = build(basic({ password: undefined, iam: PostgresIamAuth.user({ accessKeyId: 'AKIAEXAMPLE', secretAccessKey: Secret.fromEnv('AWS_SECRET') }) }));
  expect(iamUser.crawler.props.source.auth).toEqual({ type: 'iam-user', username: 'atlan', accessKeyId: 'AKIAEXAMPLE', secretAccessKey: { $secret: { fromEnv: 'AWS_SECRET' } } });
  const iamRole = build(basic({ password: undefined, iam: PostgresIamAuth.role({ roleArn: 'arn:aws:iam::123456789012:role/atlan', externalId: 'ext-1' }) }));
  expect(iamRole.crawler.props.source.auth).toEqual({ type: 'iam-role', username: 'atlan', roleArn: 'arn:aws:iam::123456789012:role/atlan', externalId: 'ext-1' });
  const offline = build((stack, tenant) => new PostgresCrawler(stack, 'crawler', { tenant, connectionName: 'offline', admins: { users: ['admin'] }, offline: { bucket: 'metadata', prefix: 'pg/prod' } }));
  expect(offline.crawler.props.source).toEqual({ extraction: 's3', bucket: 'metadata', prefix: 'pg/prod' });
});

describe('refused at synth, naming the construct, the field, the value and the fix', () => {
  test('no admin', () => {
    expect(() => build(basic({ admins: {} }))).toThrow(
      /Invalid props for PostgresCrawler at 'catalog\/crawler':\n {2}- admins = \{\}: a connection needs at least one admin: give admins.roles \(e.g. \['\$admin'\]\), admins.groups .* or admins.users/,
    );
    expect(() => build(basic({ admins: { roles: [], groups: [] } }))).toThrow(/admins = \{"groups":\[\],"roles":\[\]\}: a connection needs at least one admin/);
  });

  test('an exclude regex that is no regular expression', () => {
    expect(() => build(basic({ excludeRegex: '(unclosed' }))).toThrow(/catalog\/crawler':\n {2}- excludeRegex = "\(unclosed": is not a valid regular expression \(.*\); e.g. '\.\*_TEST' skips tables/);
  });

  test('missing or contradictory source props', () => {
    expect(() => build(basic({ host: undefined, password: undefined }))).toThrow(
      /at 'catalog\/crawler':\n {2}- host = \(missing\): direct extraction needs it: the Postgres host, e\.g\. endpoint\.host .*\n {2}- password = \(missing\): basic authentication needs the user's password/,
    );
    expect(() => build(basic({ iam: PostgresIamAuth.role({ roleArn: 'arn:aws:iam::123456789012:role/x', externalId: 'e' }) }))).toThrow(
      /password = Secret.fromEnv\('PG_PASSWORD'\): IAM authentication uses no password: remove it, or remove iam/,
    );
    expect(() => build(basic({ offline: { bucket: 'b', prefix: 'p' } }))).toThrow(/host = "pg.example.com": offline extraction reads files from S3, not the database: remove it, or remove offline/);
    expect(() => build(basic({ password: undefined, iam: PostgresIamAuth.role({ roleArn: 'not-an-arn', externalId: 'e' }) }))).toThrow(/source.auth.roleArn = "not-an-arn": expected a role ARN/);
  });

  test('ranges and vocabularies', () => {
    expect(() => build(basic({ port: 70000 }))).toThrow(/source.port = 70000: must be a port, 1-65535/);
    expect(() => build(basic({ rowLimit: 0 }))).toThrow(/rowLimit = 0: must be at least 1/);
    expect(() => build(basic({ runOnDeploy: 'sometimes' as never }))).toThrow(/runOnDeploy = "sometimes": expected one of always, on-change, never/);
    expect(() => build(basic({ connectionName: ' ' }))).toThrow(/connectionName = " ": must not be empty/);
  });

  test('the tenant: a URL with no path, a Secret for the key, a known API', () => {
    const tenant = (props: Record<string, unknown>) => () => {
      const stack = new TerraformStack(Testing.app(), 'catalog');
      new AtlanTenant(stack, 'atlan', { baseUrl: 'https://acme.atlan.com', apiKey: Secret.fromEnv('ATLAN_API_KEY'), ...props } as never);
    };
    expect(tenant({ baseUrl: 'acme.atlan.com' })).toThrow(/Invalid props for AtlanTenant at 'catalog\/atlan':\n {2}- baseUrl = "acme.atlan.com": expected the tenant URL/);
    expect(tenant({ baseUrl: 'https://acme.atlan.com/api/service' })).toThrow(/baseUrl = "https:\/\/acme.atlan.com\/api\/service": expected the tenant URL with no path/);
    expect(tenant({ apiKey: 'plain-text-key' })).toThrow(/apiKey: pass a Secret \(e.g. Secret.fromEnv\('ATLAN_API_KEY'\)\)/);
    expect(tenant({ api: 'graphql' })).toThrow(/api = "graphql": expected one of workflow, app, auto/);
  });
});

test('AtlanTenant.fromEnvironment reads the URL at synth and the key at deploy', () => {
  const stack = new TerraformStack(Testing.app(), 'catalog');
  const tenant = AtlanTenant.fromEnvironment(stack, 'atlan', { env: { ATLAN_BASE_URL: 'http://127.0.0.1:4610', ATLAN_API_KEY: 'never-read-at-synth' }, api: 'workflow' });
  expect(tenant.baseUrl).toBe('http://127.0.0.1:4610');
  const text = Testing.synth(stack);
  expect(text).not.toContain('never-read-at-synth');
  expect(() => AtlanTenant.fromEnvironment(new TerraformStack(Testing.app(), 'x'), 'atlan', { env: {} })).toThrow(/x\/atlan: AtlanTenant.fromEnvironment needs ATLAN_BASE_URL/);
});

test('attributes are deploy-time references', () => {
  const r = build((stack, tenant) => {
    const crawler = basic()(stack, tenant);
    new PostgresCrawler(stack, 'second', {
      tenant,
      connectionName: `copy of ${crawler.connectionQualifiedName}`,
      admins: { roles: ['$admin'] },
      host: 'pg.example.com',
      database: 'demo_db',
      username: crawler.workflowName,
      password: Secret.fromEnv('PG_PASSWORD'),
    });
  });
  expect(r.second.props.connectionName).toEqual({ $concat: ['copy of ', { $ref: { resource: 'crawler', attribute: 'connectionQualifiedName' } }] });
  expect(r.second.props.source.auth.username).toEqual({ $ref: { resource: 'crawler', attribute: 'workflowName' } });
});
