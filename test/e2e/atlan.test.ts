/**
 * Atlan with real Terraform: the catalog-lakebase-in-atlan example crawling a Lakebase endpoint of
 * the sandbox. Checked through Atlan's own API (workflows, connections, assets) and the requests
 * the sandbox received, not only exit codes.
 */
import type { TerraformStack } from 'cdktf';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { LakebaseInAtlan } from '../../examples/catalog-lakebase-in-atlan/catalog';
import { AtlanTenant, DatabricksAuth, DatabricksWorkspace, LakebaseBranch, LakebaseCredential, LakebaseEndpoint, LakebaseProject, RemovalPolicy, Secret } from '../../index';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { Atlan, assetNames, holdings, submits } from '../support/atlan';
import { TerraformProject } from '../support/terraform';

let sandbox: Sandbox;
let dataDir: string;
/** The crawler's own service principal. */
let crawlerSp: { clientId: string; clientSecret: string };

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-atlan-e2e-'));
  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0, atlanRunPendingSeconds: 0, atlanRunSeconds: 1 });
  crawlerSp = await sandbox.databricks.addClient();
}, 60_000);
afterAll(async () => {
  await sandbox?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** The Lakebase part, and the crawler when `schemas` is given (undefined: every schema but scratch). */
function declare(project: TerraformProject, crawl: false | { schemas?: string[] }): void {
  project.synth((stack: TerraformStack) => {
    const workspace = new DatabricksWorkspace(stack, 'workspace', {
      host: sandbox.databricks.host,
      auth: DatabricksAuth.oauthM2M({ clientId: sandbox.databricks.defaultClient.clientId, clientSecret: Secret.fromEnv('DATABRICKS_CLIENT_SECRET') }),
    });
    const lake = new LakebaseProject(stack, 'project', { workspace, projectId: 'catalog', removalPolicy: RemovalPolicy.DESTROY, purgeOnDelete: true });
    const production = new LakebaseBranch(stack, 'production', { project: lake, branchId: 'production' });
    const endpoint = new LakebaseEndpoint(stack, 'endpoint', { branch: production, endpointId: 'primary' });
    new LakebaseCredential(stack, 'setup-login', { endpoint });
    if (crawl) {
      const tenant = new AtlanTenant(stack, 'atlan', { baseUrl: sandbox.atlan.baseUrl, apiKey: Secret.fromEnv('ATLAN_API_KEY') });
      const crawlerIdentity = new DatabricksWorkspace(stack, 'crawler-identity', {
        host: sandbox.databricks.host,
        auth: DatabricksAuth.oauthM2M({ clientId: crawlerSp.clientId, clientSecret: Secret.fromEnv('CRAWLER_CLIENT_SECRET') }),
      });
      new LakebaseInAtlan(stack, 'shop', { tenant, endpoint, schemas: crawl.schemas, crawlerIdentity });
    }
  });
}

test('one workflow, one connection, assets for what exists; unchanged redeploy runs nothing; a new include map reruns the same workflow; destroy archives it', async () => {
  const project = new TerraformProject('atlan');
  project.env = { DATABRICKS_CLIENT_SECRET: sandbox.databricks.defaultClient.clientSecret, ATLAN_API_KEY: sandbox.atlan.apiKey, CRAWLER_CLIENT_SECRET: crawlerSp.clientSecret };
  const atlan = new Atlan(sandbox);
  try {
    // The database first, with two schemas, through the endpoint.
    declare(project, false);
    await project.init();
    await project.applyOk();
    const { host } = (await project.store.get('atlan', 'endpoint'))!.outputs as { host: string };
    const { username } = (await project.store.get('atlan', 'setup-login'))!.outputs as { username: string };
    const db = new Client({ host, port: 5432, user: username, password: (await project.secrets('setup-login')).password, database: 'databricks_postgres', ssl: { rejectUnauthorized: false } });
    db.on('error', () => undefined);
    await db.connect();
    await db.query('create schema sales; create table sales.orders (id int primary key, total numeric); create schema scratch; create table scratch.tmp (x int)');
    await db.end();

    sandbox.requests.length = 0;
    declare(project, {});
    await project.applyOk();
    const held = await holdings(atlan, 'lakebase-shop');
    expect(held.workflows.length + held.apps.length).toBe(1);
    expect(held.connections).toHaveLength(1);
    const [connection] = held.connections;
    const tables = await assetNames(atlan, connection, 'Table');
    expect(tables).toEqual(['databricks_postgres/sales/orders']);
    const record = (await project.store.get('atlan', 'shop/crawler'))!;
    // It logged in as its own role: its service principal's, made on the branch for it.
    expect((await project.store.get('atlan', 'shop/login'))!.outputs.username).toBe(crawlerSp.clientId);
    expect((await project.store.get('atlan', 'shop/role'))!.outputs.postgresRole).toBe(crawlerSp.clientId);
    expect(record.outputs).toMatchObject({ connectionQualifiedName: connection, lastRunPhase: 'Succeeded' });

    // Unchanged: Terraform sees no change, and a forced engine run submits nothing.
    expect((await project.plan()).output).toContain('No changes');
    sandbox.requests.length = 0;
    await project.applyOk(['-replace=terraform_data.pgstacks']);
    expect(submits(sandbox)).toEqual([]);

    // A new include map: the same workflow and connection, one new run, the assets follow.
    sandbox.requests.length = 0;
    declare(project, { schemas: ['sales', 'scratch'] });
    await project.applyOk();
    expect(submits(sandbox)).toHaveLength(1);
    const after = await holdings(atlan, 'lakebase-shop');
    expect(after.connections).toEqual([connection]);
    expect((await project.store.get('atlan', 'shop/crawler'))!.physicalId).toBe(record.physicalId);
    expect(await assetNames(atlan, connection, 'Table')).toEqual(['databricks_postgres/sales/orders', 'databricks_postgres/scratch/tmp']);

    await project.destroyOk();
    const gone = await holdings(atlan, 'lakebase-shop');
    expect(gone.workflows.length + gone.apps.length).toBe(0);
    expect((await atlan.get(`/api/service/credentials/${record.outputs.credentialGuid}`)).status).toBe(404);
    expect(await project.store.list('atlan')).toEqual([]);
  } finally {
    project.cleanup();
  }
});
