/**
 * Whatever Terraform does, the next apply converges: hard kills of Terraform's process group at
 * several points of a 20-resource apply (create, replace, destroy), Terraform killed alone while
 * its engine runs on, destroy after a failed apply, a rename without an alias, and `pgstacks plan`.
 * Remote state is checked through the sandbox's API and the records, never only exit codes.
 */
import type { TerraformStack } from 'cdktf';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CogniteAuth, CogniteProject, GatewayRawTable, GatewayUser, Secret, type GatewayColumn } from '../../index';
import { CogniteClient } from '../../src/clients/cognite';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { cdfGet, connectAs, gatewayUsers } from '../support/cognite';
import { TerraformProject, type RunResult } from '../support/terraform';

let sandbox: Sandbox;
let dataDir: string;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-converge-'));
  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0 });
});
afterAll(async () => {
  await sandbox.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});
afterEach(() => sandbox.faults.clear());

interface Shape {
  users?: number;
  tablesPerUser?: number;
  /** Extra columns on every table (a change of them replaces the tables). */
  extraColumns?: GatewayColumn[];
  /** Construct ids of tables to leave out, or to rename: `{ from: to }`. */
  omit?: string[];
  rename?: Record<string, string>;
}

const tableIds = (shape: Shape) =>
  Array.from({ length: shape.users ?? 5 }, (_, u) => Array.from({ length: shape.tablesPerUser ?? 3 }, (_, t) => ({ user: u, id: `table-${u}-${t}`, name: `t_${u}_${t}` }))).flat();

function declare(project: TerraformProject, shape: Shape = {}): void {
  project.synth((stack: TerraformStack) => {
    const cdf = new CogniteProject(stack, 'cdf', {
      project: 'acme',
      baseUrl: sandbox.cognite.baseUrl,
      auth: CogniteAuth.clientCredentials({ tokenUrl: sandbox.cognite.tokenUrl, clientId: sandbox.cognite.defaultClient.clientId, clientSecret: Secret.fromEnv('CDF_CLIENT_SECRET') }),
    });
    const users = Array.from({ length: shape.users ?? 5 }, (_, u) => new GatewayUser(stack, `user-${u}`, { project: cdf }));
    for (const table of tableIds(shape)) {
      if (shape.omit?.includes(table.id)) continue;
      new GatewayRawTable(stack, shape.rename?.[table.id] ?? table.id, {
        user: users[table.user],
        tablename: table.name,
        rawDatabase: 'converge',
        rawTable: table.name,
        primaryKey: 'id',
        columns: [{ name: 'id', type: 'TEXT' }, ...(shape.extraColumns ?? [])],
      });
    }
  });
}

function newProject(): TerraformProject {
  const project = new TerraformProject('converge');
  project.env = { CDF_CLIENT_SECRET: sandbox.cognite.defaultClient.clientSecret };
  return project;
}

/**
 * Runs terraform and SIGKILLs it once the engine has printed `after` result lines (0: as soon as
 * it printed its plan). `group`: the whole process group, as a cancelled CI job; else terraform
 * alone, leaving its children running.
 */
function applyAndKill(project: TerraformProject, args: string[], after: number, group: boolean): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn('terraform', [...args, '-auto-approve', '-input=false', '-no-color'], {
      cwd: project.stackDir,
      env: project.processEnv(),
      detached: group,
    });
    let output = '';
    let results = 0;
    let killed = false;
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      results = (output.match(/pgstacks: [\w/-]+: (created|replaced|updated|deleted|re-created)/g) ?? []).length;
      const planned = /pgstacks: (Plan:|No changes)/.test(output);
      if (!killed && planned && results >= after) {
        killed = true;
        process.kill(group ? -(child.pid as number) : (child.pid as number), 'SIGKILL');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

/**
 * node processes still working in the project's stack folder (a stray engine). One that a SIGKILL
 * has reached and that is still exiting (freeing its memory can outlast Terraform's own exit) is
 * not a stray: it can do nothing more.
 */
function strays(project: TerraformProject): number[] {
  return fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((pid) => {
      try {
        return (
          fs.readlinkSync(`/proc/${pid}/cwd`) === project.stackDir && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('pgstacks-handler') && !dying(pid)
        );
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** SIGKILL pending (/proc/<pid>/status), or the kernel already exiting it (PF_EXITING in /proc/<pid>/stat). */
function dying(pid: string): boolean {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const SIGKILL = 1n << 8n;
  const pending = ['SigPnd', 'ShdPnd'].some((field) => (BigInt(`0x${new RegExp(`^${field}:\\s*([0-9a-f]+)`, 'm').exec(status)?.[1] ?? '0'}`) & SIGKILL) !== 0n);
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const flags = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[6]);
  const PF_EXITING = 0x4;
  return pending || (flags & PF_EXITING) !== 0;
}

async function waitFor(condition: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

/** Every declared object exists exactly once, every record is ready, and Terraform sees no change. */
async function expectConverged(project: TerraformProject, shape: Shape = {}): Promise<void> {
  const records = await project.store.list('converge');
  const expected = tableIds(shape).filter((t) => !shape.omit?.includes(t.id));
  expect(records.map((r) => r.id).sort()).toEqual(
    [...Array.from({ length: shape.users ?? 5 }, (_, u) => `user-${u}`), ...expected.map((t) => shape.rename?.[t.id] ?? t.id)].sort(),
  );
  for (const record of records) expect(record).toMatchObject({ status: 'ready', physicalId: expect.any(String) });
  const users = await gatewayUsers(sandbox);
  const usernames = records.filter((r) => r.type === 'cognite:gateway-user').map((r) => r.physicalId).sort();
  expect(users.map((u) => u.username).sort()).toEqual(usernames);
  for (let u = 0; u < (shape.users ?? 5); u++) {
    const username = records.find((r) => r.id === `user-${u}`)?.physicalId as string;
    const tables = (await cdfGet(sandbox, `/postgresgateway/tables/${username}`)).items as Array<{ tablename: string; columns: Record<string, unknown> }>;
    expect(tables.map((t) => t.tablename).sort()).toEqual(expected.filter((t) => t.user === u).map((t) => t.name).sort());
    for (const table of tables) expect(Object.keys(table.columns).sort()).toEqual(['id', ...(shape.extraColumns ?? []).map((c) => c.name)].sort());
  }
  const plan = await project.plan();
  expect(plan.output).toContain('No changes.');
  expect(plan.code).toBe(0);
}

async function expectNothingLeft(project: TerraformProject): Promise<void> {
  expect(await gatewayUsers(sandbox)).toEqual([]);
  expect(await project.store.list('converge')).toEqual([]);
}

test('a hard kill of Terraform at any point of create, replace or destroy: the next run converges', async () => {
  const project = newProject();
  try {
    declare(project);
    await project.init();
    // Killed as soon as the engine has planned: nothing done, yet Terraform may have recorded the reconciler.
    const early = await applyAndKill(project, ['apply'], 0, true);
    expect(early.code).not.toBe(0);
    await project.applyOk();
    await expectConverged(project);

    // Killed part-way through replacing the 15 tables.
    const widened = { extraColumns: [{ name: 'reading', type: 'DOUBLE PRECISION' as const }] };
    declare(project, widened);
    await applyAndKill(project, ['apply'], 4, true);
    await project.applyOk();
    await expectConverged(project, widened);

    // Killed part-way through destroy.
    await applyAndKill(project, ['destroy'], 5, true);
    await project.destroyOk();
    await expectNothingLeft(project);

    // Killed deep into a fresh create.
    declare(project);
    await applyAndKill(project, ['apply'], 11, true);
    expect(strays(project)).toEqual([]);
    await project.applyOk();
    await expectConverged(project);
  } finally {
    await project.destroy();
    project.cleanup();
  }
});

test('terraform killed alone: its engine finishes what it started, starts nothing new, and the next apply converges', async () => {
  const project = newProject();
  try {
    declare(project);
    await project.init();
    // One resource at a time (ten tables, whose creates share requests), so there is work the
    // engine has not started when terraform dies; each table create answers slowly.
    project.env = { ...project.env, PGSTACKS_PARALLELISM: '1' };
    sandbox.faults.add({ method: 'POST', path: /\/postgresgateway\/tables\/[^/]+$/, delayMs: 150, times: 1000 });
    const killed = await applyAndKill(project, ['apply'], 3, false);
    expect(killed.code).not.toBe(0);
    expect(strays(project).length).toBeGreaterThan(0);
    // The stray finishes what it had started (nothing torn: every record it wrote is ready) and stops.
    await waitFor(() => strays(project).length === 0, 10_000);
    expect(strays(project)).toEqual([]);
    const left = await project.store.list('converge');
    expect(left.length).toBeLessThan(20);
    for (const record of left) expect(record.status).toBe('ready');
    await project.applyOk();
    await expectConverged(project);
  } finally {
    sandbox.faults.clear();
    await project.destroy();
    project.cleanup();
  }
});

test('destroy after a failed apply leaves nothing remotely and no records', async () => {
  const project = newProject();
  try {
    declare(project);
    // Every table create is refused (a refused shared create is made again a table at a time).
    sandbox.faults.add({ method: 'POST', path: /\/postgresgateway\/tables\/[^/]+$/, status: 400, times: 1000 });
    const failed = await project.apply();
    expect(failed.code).not.toBe(0);
    expect((await gatewayUsers(sandbox)).length).toBe(5);
    const destroyed = await project.destroyOk();
    expect(destroyed).toContain('Destroy complete!');
    await expectNothingLeft(project);
  } finally {
    project.cleanup();
  }
});

test('a rename without an alias keeps the table, its one owner and its rows', async () => {
  const project = newProject();
  const shape: Shape = { users: 1, tablesPerUser: 1 };
  try {
    declare(project, shape);
    await project.applyOk();
    const user = (await project.store.get('converge', 'user-0'))!;
    const { password } = await project.secrets('user-0');
    const db = await connectAs(sandbox, user.physicalId as string, password);
    await db.query(`INSERT INTO t_0_0 (id) VALUES ('a'), ('b')`);

    declare(project, { ...shape, rename: { 'table-0-0': 'pumps' } });
    const output = await project.applyOk();
    expect(output).toContain("pumps: moved from 'table-0-0'");
    await expectConverged(project, { ...shape, rename: { 'table-0-0': 'pumps' } });
    expect(await project.store.get('converge', 'table-0-0')).toBeUndefined();
    expect((await db.query('SELECT count(*)::int AS n FROM t_0_0')).rows[0].n).toBe(2);
    await db.end();
  } finally {
    await project.destroy();
    project.cleanup();
  }
});

test('pgstacks plan shows a changed field, a removed construct and an object deleted outside pgstacks, and says "changes"', async () => {
  const project = newProject();
  const shape: Shape = { users: 1, tablesPerUser: 3 };
  try {
    declare(project, shape);
    await project.applyOk();
    const username = (await project.store.get('converge', 'user-0'))!.physicalId as string;
    const cdf = new CogniteClient({
      baseUrl: sandbox.cognite.baseUrl, project: 'acme', tokenUrl: sandbox.cognite.tokenUrl, scopes: ['x'], credentials: sandbox.cognite.defaultClient,
    });
    await cdf.deleteGatewayTables(username, ['t_0_2']);
    declare(project, { ...shape, omit: ['table-0-1'], extraColumns: [{ name: 'note', type: 'TEXT' }] });
    const run = (...args: string[]) => runBin(project, ['plan', 'converge', ...args]);
    const human = await run('--detailed-exitcode');
    expect(human.status).toBe(2);
    expect(human.stdout).toMatch(/-\/\+ table-0-0 \[cognite:gateway-raw-table\]: replace/);
    expect(human.stdout).toMatch(/\+ columns\.1\.name = "note"\s+# forces replacement/);
    expect(human.stdout).toMatch(/- table-0-1 \[cognite:gateway-raw-table\]: delete \(no longer declared\)/);
    expect(human.stdout).toMatch(/\+ table-0-2 \[cognite:gateway-raw-table\]: create \(deleted outside pgstacks\)/);
    expect(human.stdout).toMatch(/Plan: 1 to create, 0 to update, 1 to replace, 1 to delete/);
    const json = JSON.parse((await run('--json')).stdout);
    expect(json).toMatchObject({ stack: 'converge', changes: true, summary: { create: 1, replace: 1, delete: 1 } });
    expect((await run()).status).toBe(0);
    // Nothing was changed by planning.
    expect((await cdfGet(sandbox, `/postgresgateway/tables/${username}`)).items.map((t: { tablename: string }) => t.tablename).sort()).toEqual(['t_0_0', 't_0_1']);
  } finally {
    await project.destroy();
    project.cleanup();
  }
});

test('a lost state directory: tables are adopted by name, the user stops the run with the import command, which then works', async () => {
  const project = newProject();
  const shape: Shape = { users: 1, tablesPerUser: 2 };
  try {
    declare(project, shape);
    await project.applyOk();
    const username = (await project.store.get('converge', 'user-0'))!.physicalId as string;
    fs.rmSync(path.join(project.dir, '.pgstacks'), { recursive: true }); // a fresh CI runner

    const stopped = await project.apply(['-replace=terraform_data.pgstacks']);
    expect(stopped.code).not.toBe(0);
    expect(stopped.output).toContain("user-0: it has no record, though Terraform deployed this stack before: the state was lost");
    expect(stopped.output).toContain("pgstacks state import converge user-0 <physical id>");
    expect((await gatewayUsers(sandbox)).map((u) => u.username)).toEqual([username]);

    const imported = await runBin(project, ['state', 'import', 'converge', 'user-0', username]);
    expect(imported.stdout).toContain(`Imported cognite:gateway-user ${username} as user-0`);
    const output = await project.applyOk();
    expect(output).toMatch(/table-0-0: adopted cognite:gateway-raw-table \w+\/t_0_0 found by its name/);
    expect((await gatewayUsers(sandbox)).map((u) => u.username)).toEqual([username]);
    await expectConverged(project, shape);
  } finally {
    await project.destroy();
    project.cleanup();
  }
});

/** The pgstacks bin in the project's folder; not spawnSync: the sandbox it talks to runs in this process. */
function runBin(project: TerraformProject, args: string[]): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(path.join(__dirname, '../../bin/pgstacks'), args, { cwd: project.dir, env: project.processEnv() });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.on('close', (status) => resolve({ status, stdout }));
  });
}
