/**
 * Lakebase with real Terraform: the lakebase-branches example deployed into the sandbox, a login
 * at a team branch's endpoint, in-place changes, a rename with an alias, a RETAIN branch removed,
 * a deploy killed while polling a create, and destroy. Remote state is read through the
 * Databricks API of the sandbox, and from Postgres behind the endpoints.
 */
import type { TerraformStack } from 'cdktf';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { LakebaseBranches } from '../../examples/lakebase-branches/branches';
import { DatabricksAuth, DatabricksWorkspace, Duration, LakebaseBranch, LakebaseCredential, RemovalPolicy, Secret } from '../../index';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { lakebase, lakebaseCalls } from '../support/lakebase';
import { TerraformProject } from '../support/terraform';

let sandbox: Sandbox;
let dataDir: string;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-lakebase-e2e-'));
  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0 });
}, 60_000);
afterAll(async () => {
  await sandbox?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

interface Shape {
  projectId: string;
  teams?: string[];
  maxCu?: number;
  /** A RETAIN branch, declared or not. */
  keep?: boolean;
  /** A credential for the first team's endpoint. */
  login?: boolean;
}

function workspace(stack: TerraformStack): DatabricksWorkspace {
  return new DatabricksWorkspace(stack, 'workspace', {
    host: sandbox.databricks.host,
    auth: DatabricksAuth.oauthM2M({ clientId: sandbox.databricks.defaultClient.clientId, clientSecret: Secret.fromEnv('DATABRICKS_CLIENT_SECRET') }),
  });
}

function declare(project: TerraformProject, shape: Shape): void {
  project.synth((stack) => {
    const teams = shape.teams ?? ['checkout', 'search'];
    const lake = new LakebaseBranches(stack, 'lakebase', {
      workspace: workspace(stack),
      projectId: shape.projectId,
      teams,
      endpointSettings: { minCu: 0.5, maxCu: shape.maxCu ?? 2, suspendTimeout: Duration.minutes(5) },
    });
    if (shape.keep) new LakebaseBranch(stack, 'archive', { project: lake.project, branchId: 'archive', removalPolicy: RemovalPolicy.RETAIN });
    if (shape.login) new LakebaseCredential(stack, 'login', { endpoint: lake.teams[teams[0]].endpoint });
  });
}

function newProject(): TerraformProject {
  const project = new TerraformProject('lakebase');
  project.env = { DATABRICKS_CLIENT_SECRET: sandbox.databricks.defaultClient.clientSecret };
  return project;
}

const names = async (parent: string, collection: string) => (await lakebase(sandbox).list(parent, collection)).map((o) => o.name).sort();

test('the example deploys; a team logs in at its branch endpoint; limits change in place; RETAIN is kept; destroy removes the rest', async () => {
  const project = newProject();
  try {
    declare(project, { projectId: 'teams', keep: true, login: true });
    await project.init();
    await project.applyOk();
    expect(await names('projects/teams', 'branches')).toEqual(['projects/teams/branches/archive', 'projects/teams/branches/dev-checkout', 'projects/teams/branches/dev-search', 'projects/teams/branches/production']);
    expect(await names('projects/teams/branches/dev-checkout', 'roles')).toContain('projects/teams/branches/dev-checkout/roles/team-checkout');
    expect(await names('projects/teams/branches/dev-checkout', 'databases')).toContain('projects/teams/branches/dev-checkout/databases/checkout-db');

    // A generated credential logs in at the team endpoint's host.
    const endpoint = (await project.store.get('lakebase', 'lakebase/checkout/endpoint'))!.outputs as { host: string; port: number };
    const login = (await project.store.get('lakebase', 'login'))!.outputs as { username: string };
    const db = new Client({ host: endpoint.host, port: endpoint.port, user: login.username, password: (await project.secrets('login')).password, database: 'databricks_postgres', ssl: { rejectUnauthorized: false } });
    db.on('error', () => undefined); // the sandbox may stop first when a check above fails
    await db.connect();
    try {
      await db.query('create table carts (id int primary key); insert into carts values (1)');
      expect((await db.query('select count(*)::int as n from carts')).rows).toEqual([{ n: 1 }]);
      expect((await db.query("select datname from pg_database where datname = 'checkout_db'")).rows).toHaveLength(1);
    } finally {
      await db.end();
    }

    // Autoscaling limits change in place: a PATCH, no delete, no new endpoint.
    sandbox.requests.length = 0;
    declare(project, { projectId: 'teams', keep: true, login: true, maxCu: 4 });
    await project.applyOk();
    const writes = lakebaseCalls(sandbox).filter((c) => !c.startsWith('GET') && !c.includes('credentials'));
    expect(writes.sort()).toEqual(['PATCH projects/teams/branches/dev-checkout/endpoints/primary', 'PATCH projects/teams/branches/dev-search/endpoints/primary']);
    expect((await lakebase(sandbox).get('projects/teams/branches/dev-checkout/endpoints/primary'))?.status).toMatchObject({ autoscaling_limit_max_cu: 4 });
    expect((await project.plan()).output).toContain('No changes');

    // A RETAIN branch removed from the code is forgotten and stays.
    declare(project, { projectId: 'teams', login: true, maxCu: 4 });
    await project.applyOk();
    expect(await project.store.get('lakebase', 'archive')).toBeUndefined();
    expect(await names('projects/teams', 'branches')).toContain('projects/teams/branches/archive');

    await project.destroyOk();
    expect(await names('projects/teams', 'branches')).toEqual(expect.arrayContaining(['projects/teams/branches/production']));
    expect(await names('projects/teams', 'branches')).not.toContain('projects/teams/branches/dev-checkout');
    expect(await project.store.list('lakebase')).toEqual([]);
  } finally {
    project.cleanup();
  }
});

test('renaming a branch construct with an alias changes nothing remotely', async () => {
  const project = newProject();
  const build = (id: string, aliases?: string[]) =>
    project.synth((stack) => {
      const lake = new LakebaseBranches(stack, 'lakebase', { workspace: workspace(stack), projectId: 'alias', teams: [] });
      new LakebaseBranch(stack, id, { project: lake.project, branchId: 'feature', sourceBranch: lake.production, removalPolicy: RemovalPolicy.DESTROY, aliases });
    });
  try {
    build('feature');
    await project.init();
    await project.applyOk();
    const before = await lakebase(sandbox).get('projects/alias/branches/feature');
    sandbox.requests.length = 0;
    build('feature-renamed', ['feature']);
    const output = await project.applyOk();
    expect(lakebaseCalls(sandbox).filter((c) => !c.startsWith('GET'))).toEqual([]);
    expect(output).toContain('feature-renamed');
    expect((await lakebase(sandbox).get('projects/alias/branches/feature'))?.uid).toBe(before?.uid);
    expect((await project.store.get('lakebase', 'feature-renamed'))?.physicalId).toBe('projects/alias/branches/feature');
    await project.destroyOk();
  } finally {
    project.cleanup();
  }
});

test('a deploy killed while polling a branch create resumes the same operation: one branch, not two', async () => {
  const project = newProject();
  const build = () =>
    project.synth((stack) => {
      const lake = new LakebaseBranches(stack, 'lakebase', { workspace: workspace(stack), projectId: 'killed', teams: ['one'] });
      void lake;
    });
  try {
    build();
    await project.init();
    sandbox.databricks.setOperationDelay('branch', 4_000);
    const posted = () => sandbox.requests.some((r) => r.method === 'POST' && r.path.endsWith('/projects/killed/branches') && r.query.includes('branch_id=dev-one') && r.status === 200);
    // Kill terraform's whole process group once the branch create was answered (the engine is polling it).
    await new Promise<void>((resolve) => {
      const child = spawn('terraform', ['apply', '-auto-approve', '-input=false', '-no-color'], { cwd: project.stackDir, env: project.processEnv(), detached: true, stdio: 'ignore' });
      const timer = setInterval(() => {
        if (!posted()) return;
        clearInterval(timer);
        setTimeout(() => process.kill(-(child.pid as number), 'SIGKILL'), 300);
      }, 50);
      child.on('close', () => resolve());
    });
    sandbox.databricks.setOperationDelay('branch', 0);
    sandbox.requests.length = 0;
    const output = await project.applyOk();
    expect(output).toContain('resuming projects/killed/branches/dev-one/operations/');
    expect(lakebaseCalls(sandbox).filter((c) => c === 'POST projects/killed/branches')).toEqual([]);
    expect((await names('projects/killed', 'branches')).filter((n) => n.includes('dev-one'))).toEqual(['projects/killed/branches/dev-one']);
    expect((await project.plan()).output).toContain('No changes');
    await project.destroyOk();
  } finally {
    project.cleanup();
  }
});
