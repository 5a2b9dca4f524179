/**
 * The Cognite ingestion example applied by real Terraform against the sandbox: a gateway user that
 * really logs in, tables rows really land in, and the lifecycle around them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CdfIngestion } from '../../examples/cdf-ingestion/ingestion';
import { cli } from '../../src/cli';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { CogniteAuth, CogniteProject, Secret } from '../../index';
import { cdfGet, connectAs, gatewayUsers } from '../support/cognite';
import { TerraformProject } from '../support/terraform';

let sandbox: Sandbox;
let dataDir: string;
let project: TerraformProject;

let synthesized: string;
let deployed: string;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-platform-'));
  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0 });
});
afterAll(async () => {
  await sandbox.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});
// Each test deploys the example itself, so each runs alone.
beforeEach(async () => {
  project = new TerraformProject('platform');
  project.env = { CDF_CLIENT_SECRET: sandbox.cognite.defaultClient.clientSecret };
  synthesized = declare();
  deployed = await project.applyOk();
});
afterEach(async () => {
  await project.destroy();
  project.cleanup();
});

function declare(rawDatabase = 'ingest'): string {
  return project.synth((stack) => {
    const cdf = new CogniteProject(stack, 'acme', {
      project: 'acme',
      baseUrl: sandbox.cognite.baseUrl,
      auth: CogniteAuth.clientCredentials({ tokenUrl: sandbox.cognite.tokenUrl, clientId: sandbox.cognite.defaultClient.clientId, clientSecret: Secret.fromEnv('CDF_CLIENT_SECRET') }),
    });
    new CdfIngestion(stack, 'cdf', { project: cdf, rawDatabase });
  });
}

async function outputs(...args: string[]): Promise<string> {
  const lines: string[] = [];
  const state = path.join(project.dir, '.pgstacks', 'state');
  await cli(['outputs', 'platform', ...args, '--state-dir', state], { out: (l) => lines.push(l), err: (l) => lines.push(l), env: project.processEnv() });
  return lines.join('\n');
}

test('deploy: a user, a raw table and a view table; the secret is nowhere in the synthesized files or the log', async () => {
  expect(synthesized).not.toContain(sandbox.cognite.defaultClient.clientSecret);
  const output = deployed;
  expect(output).not.toContain(sandbox.cognite.defaultClient.clientSecret);
  expect(output).toMatch(/terraform_data\.pgstacks \(local-exec\): pgstacks: cdf\/adf-sink: created cognite:gateway-user \w+ in/);
  expect(output).toMatch(/terraform_data\.pgstacks \(local-exec\): pgstacks: cdf\/pumps: created cognite:gateway-raw-table \w+\/pumps in/);
  expect(output).toContain('Apply complete! Resources: 8 added'); // 3 resources, the project, the reconciler, the rerun, the start and the teardown

  const listing = await outputs();
  expect(listing).toMatch(/cdf\/adf-sink \(cognite:gateway-user\)\n {2}username\s+\w+\n {2}host\s+127\.0\.0\.1\n {2}port\s+\d+\n {2}database\s+\w+\n {2}sessionId\s+\d+\n {2}password\s+\(sensitive\)/);
  const password = await outputs('cdf/adf-sink', 'password', '--reveal');
  expect(output).not.toContain(password);
  expect(fs.readFileSync(path.join(project.dir, 'terraform.tfstate'), 'utf8')).not.toContain(password);
});

test('the gateway user logs in with the printed credentials and its rows land in RAW', async () => {
  const username = await outputs('cdf/adf-sink', 'username');
  const db = await connectAs(sandbox, username, await outputs('cdf/adf-sink', 'password', '--reveal'));
  await db.query(`INSERT INTO pumps (id, pressure, measured_at) VALUES ('pump-1', 4.2, now())`);
  expect((await db.query('SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1')).rows.map((r) => r.tablename)).toEqual(['my_assets', 'pumps']);
  await db.end();
  const rows = (await cdfGet(sandbox, '/raw/dbs/ingest/tables/pumps/rows')).items;
  expect(rows).toEqual([expect.objectContaining({ key: 'pump-1', columns: expect.objectContaining({ pressure: 4.2 }) })]);
});

test('re-deploy without change: no plan diff', async () => {
  declare();
  const plan = await project.plan();
  expect(plan.output).toContain('No changes.');
  expect(plan.code).toBe(0);
});

test('a table definition change replaces the table only; the user and its password stay', async () => {
  const before = await gatewayUsers(sandbox);
  declare('ingest-v2');
  const plan = await project.plan();
  expect(plan.output).toMatch(/~ rawDatabase\s+= "ingest" -> "ingest-v2"/);
  const output = await project.applyOk();
  expect(output).toMatch(/cdf\/pumps: replaced \(rawDatabase changed\)/);
  expect(output).not.toMatch(/cdf\/adf-sink: (created|replaced|updated)/);
  expect(await gatewayUsers(sandbox)).toEqual(before);
  const db = await connectAs(sandbox, before[0].username, await outputs('cdf/adf-sink', 'password', '--reveal'));
  await db.query(`INSERT INTO pumps (id, pressure) VALUES ('pump-2', 1.0)`);
  await db.end();
  expect((await cdfGet(sandbox, '/raw/dbs/ingest-v2/tables/pumps/rows')).items).toEqual([expect.objectContaining({ key: 'pump-2' })]);
});

test('destroy removes the user (and with it its tables and database)', async () => {
  const output = await project.destroyOk();
  expect(output).toContain('Destroy complete! Resources: 8 destroyed.'); // 3 resources, the project, the reconciler, the rerun, the start and the teardown
  expect(await gatewayUsers(sandbox)).toEqual([]);
  expect(await project.store.list('platform')).toEqual([]);
});
