/**
 * Where the engine keeps its records, end to end with the real `terraform` binary:
 * - with the PostgreSQL store (and Terraform's state in PostgreSQL too), a deploy whose Terraform
 *   is killed hard mid-run converges from a runner that has none of the killed one's files;
 * - two stacks deployed at the same moment from two directories share one PostgreSQL store;
 * - `pgstacks state migrate` moves a deployed stack from the local store to PostgreSQL without
 *   touching anything remotely;
 * - a copied `cdktf.out` keeps its local records next to where it is applied.
 */
import { LocalBackend, PgBackend, type TerraformStack } from 'cdktf';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Pgstacks, Secret, StateBackend } from '../../constructs/core';
import { LocalDirectoryStore, type ResourceRecord } from '../../src/runtime/state';
import { startStatePostgres, type StatePostgres } from '../support/postgres';
import { TerraformProject, type RunResult } from '../support/terraform';
import { Widget } from '../support/widget';
import { WidgetServer } from '../support/widget-server';

const BIN = path.join(__dirname, '../../bin/pgstacks');

let postgres: StatePostgres;
let server: WidgetServer;
const projects: TerraformProject[] = [];
const scratch: string[] = [];

beforeAll(async () => {
  [postgres, server] = await Promise.all([startStatePostgres(0), new WidgetServer().start()]);
});
afterAll(async () => {
  await server?.stop();
  await postgres?.stop();
  for (const project of projects) project.cleanup();
  for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
});

function newProject(stackName: string, env: Record<string, string> = {}): TerraformProject {
  const project = new TerraformProject(stackName);
  project.env = env;
  projects.push(project);
  return project;
}

/** The PostgreSQL store, its connection string in PG_CONN_STR. */
const postgresStore = (stack: TerraformStack) => Pgstacks.configure(stack, { stateBackend: StateBackend.postgres({ connectionString: Secret.fromEnv('PG_CONN_STR') }) });

/** Widgets `<prefix>-0` … `<prefix>-<count - 1>` on `endpoint`. */
function declareWidgets(project: TerraformProject, prefix: string, count: number, options: { postgres: boolean; endpoint?: string; size?: number }): void {
  project.synth((stack) => {
    if (options.postgres) postgresStore(stack);
    for (let i = 0; i < count; i++) new Widget(stack, `${prefix}-${i}`, { endpoint: options.endpoint ?? server.url, name: `${prefix}-${i}`, size: options.size ?? 1 });
  });
}

const widgetsNamed = (prefix: string) => server.list().filter((t) => t.name.startsWith(`${prefix}-`));

/** Each of `count` widgets exists once, and its record is ready and names it. */
function expectRecordsMatchWidgets(records: ResourceRecord[], prefix: string, count: number): void {
  const expected = Array.from({ length: count }, (_, i) => `${prefix}-${i}`).sort();
  const widgets = widgetsNamed(prefix);
  expect(widgets.map((w) => w.name).sort()).toEqual(expected);
  expect(records.map((r) => r.id).sort()).toEqual(expected);
  for (const record of records) {
    expect(record).toMatchObject({ status: 'ready', physicalId: widgets.find((w) => w.name === record.id)?.id });
  }
}

/** Runs the pgstacks command from `cwd` (spawned: the servers it talks to live in this process). */
function pgstacks(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { cwd, env });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

/**
 * `terraform apply` in its own process group, SIGKILLed as a whole (a cancelled CI job) once the
 * engine has printed its plan and `results` result lines and `gate` holds a create in flight.
 */
function applyAndKill(project: TerraformProject, results: number, gate: CreateGate): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('terraform', ['apply', '-auto-approve', '-input=false', '-no-color'], { cwd: project.stackDir, env: project.processEnv(), detached: true });
    let output = '';
    let killed = false;
    const check = () => {
      const printed = (output.match(/pgstacks: [\w/-]+: (created|replaced|updated|deleted|re-created)/g) ?? []).length;
      if (!killed && /pgstacks: Plan:/.test(output) && printed >= results && gate.waiting > 0) {
        killed = true;
        process.kill(-(child.pid as number), 'SIGKILL');
      }
    };
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      check();
    };
    gate.onHold = check;
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

/**
 * Stands in front of the widget server: answers the first `answered` creates and holds every
 * later request until `release`, so a kill lands mid-run whatever the machine's speed, with
 * creates in flight that reach the server only after their client is gone.
 */
class CreateGate {
  private readonly held: Array<() => Promise<void>> = [];
  /** Called whenever a request is held. */
  onHold?: () => void;
  private creates = 0;
  private holding = true;
  private readonly proxy = http.createServer((req, res) => void this.handle(req, res));

  constructor(
    private readonly target: string,
    private readonly answered: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${(this.proxy.address() as AddressInfo).port}`;
  }

  /** Requests held so far. */
  get waiting(): number {
    return this.held.length;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.proxy.listen(0, '127.0.0.1', resolve));
    return this;
  }

  /** Sends every held request on to the widget server (their clients may be gone) and stops holding. */
  async release(): Promise<void> {
    this.holding = false;
    await Promise.all(this.held.splice(0).map((send) => send()));
  }

  async stop(): Promise<void> {
    this.proxy.closeAllConnections();
    await new Promise<void>((resolve) => this.proxy.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const send = () =>
      new Promise<void>((resolve) => {
        const upstream = http.request(`${this.target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
          const body: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => body.push(chunk));
          answer.on('end', () => {
            if (!res.destroyed) res.writeHead(answer.statusCode ?? 502, answer.headers).end(Buffer.concat(body));
            resolve();
          });
        });
        upstream.on('error', () => resolve());
        upstream.end(Buffer.concat(chunks));
      });
    const isCreate = req.method === 'POST';
    if (isCreate) this.creates++;
    if (this.holding && (this.held.length > 0 || (isCreate && this.creates > this.answered))) {
      this.held.push(send);
      this.onHold?.();
    } else {
      await send();
    }
  }
}

test('a deploy killed mid-run converges from a fresh runner: records and Terraform state in PostgreSQL', async () => {
  const url = await postgres.createDatabase('killed');
  const gate = await new CreateGate(server.url, 3).start();
  const project = newProject('killed', { PG_CONN_STR: url });
  // Terraform's own state in the same database (pgstacks' tables live in a schema of their own).
  project.backend = (stack) => new PgBackend(stack, { connStr: url });
  try {
    declareWidgets(project, 'killed', 10, { postgres: true, endpoint: gate.url });
    await project.init();

    const killed = await applyAndKill(project, 3, gate);
    expect(killed.code).not.toBe(0);
    expect(killed.output).toMatch(/pgstacks: Plan: 10 to create/);
    // The kill cut the run short: creates were in flight, and they reach the server only now.
    expect(gate.waiting).toBeGreaterThan(0);
    await gate.release();
    const store = postgres.store(url);
    const ready = (await store.list('killed')).filter((r) => r.status === 'ready').length;
    const made = widgetsNamed('killed').length;
    expect(ready).toBe(3);
    expect(made).toBeGreaterThan(ready);

    // A fresh runner: no pgstacks files, no .terraform, no local Terraform state; only the databases.
    fs.rmSync(path.join(project.dir, '.pgstacks'), { recursive: true, force: true });
    fs.rmSync(path.join(project.stackDir, '.terraform'), { recursive: true, force: true });
    expect(fs.readdirSync(project.dir).sort()).toEqual(['cdktf.json', 'cdktf.out']);
    await project.init();
    const output = await project.applyOk();
    expect(output).toMatch(/terraform_data\.pgstacks (will be created|must be replaced)/);
    // The creates cut short are found (their intent records are in the database), not made again.
    expect(output).toMatch(/pgstacks: Plan: 7 to create, 0 to update, 0 to replace, 0 to delete, 0 to forget; 3 unchanged\./);
    expect(output.match(/pgstacks: killed-\d: adopted test:widget/g) ?? []).toHaveLength(made - ready);
    expect(output.match(/pgstacks: killed-\d: made widgets/g) ?? []).toHaveLength(10 - made);

    expectRecordsMatchWidgets(await store.list('killed'), 'killed', 10);
    const plan = await project.plan();
    expect(plan.output).toContain('No changes.');
    expect(plan.code).toBe(0);
  } finally {
    await gate.stop();
  }
});

test('two stacks deployed at the same moment from two directories share one PostgreSQL store', async () => {
  const url = await postgres.createDatabase('shared');
  const blue = newProject('blue', { PG_CONN_STR: url });
  const green = newProject('green', { PG_CONN_STR: url });
  declareWidgets(blue, 'blue', 6, { postgres: true });
  declareWidgets(green, 'green', 6, { postgres: true });
  await Promise.all([blue.applyOk(), green.applyOk()]);
  const store = postgres.store(url);
  expectRecordsMatchWidgets(await store.list('blue'), 'blue', 6);
  expectRecordsMatchWidgets(await store.list('green'), 'green', 6);
  expect(await store.stacks()).toEqual(['blue', 'green']);

  // And a concurrent change of both: each engine sees only its own stack's records.
  declareWidgets(blue, 'blue', 6, { postgres: true, size: 3 });
  declareWidgets(green, 'green', 4, { postgres: true });
  server.resetCalls();
  await Promise.all([blue.applyOk(), green.applyOk()]);
  expect(server.writes('PATCH')).toBe(6);
  expect(server.writes('DELETE')).toBe(2);
  expect(server.writes('POST')).toBe(0);
  expectRecordsMatchWidgets(await store.list('blue'), 'blue', 6);
  expectRecordsMatchWidgets(await store.list('green'), 'green', 4);
  for (const widget of widgetsNamed('blue')) expect(widget.size).toBe(3);
  for (const project of [blue, green]) expect((await project.plan()).code).toBe(0);
});

test('pgstacks state migrate --to postgres: the next applies from PostgreSQL change nothing remotely', async () => {
  const url = await postgres.createDatabase('migrated');
  const project = newProject('moved');
  declareWidgets(project, 'moved', 3, { postgres: false });
  await project.applyOk();
  const local = await project.store.list('moved');
  expectRecordsMatchWidgets(local, 'moved', 3);

  const migrated = await pgstacks(['state', 'migrate', 'moved', '--to', 'postgres'], project.dir, { ...project.processEnv(), PGSTACKS_STATE_DATABASE_URL: url });
  expect(migrated.output).toContain("Copied 3 records of stack 'moved'");
  expect(migrated.code).toBe(0);
  const store = postgres.store(url);
  expect(await store.list('moved')).toEqual(local);
  expect(await store.getMeta('moved')).toEqual(await project.store.getMeta('moved'));

  // The stack now says where its records are; nothing remote changes, and the records stay put.
  project.env = { PG_CONN_STR: url };
  declareWidgets(project, 'moved', 3, { postgres: true });
  server.resetCalls();
  await project.applyOk();
  // An engine run forced over the PostgreSQL records: it finds everything as recorded.
  const forced = await project.applyOk(['-replace=terraform_data.pgstacks']);
  expect(forced).toContain("pgstacks: No changes: all 3 resources of stack 'moved' match the code.");
  expect(server.writes()).toBe(0);
  expectRecordsMatchWidgets(await store.list('moved'), 'moved', 3);
  const unchanged = (records: ResourceRecord[]) => records.map(({ id, status, physicalId, props, outputs, createdAt }) => ({ id, status, physicalId, props, outputs, createdAt }));
  expect(unchanged(await store.list('moved'))).toEqual(unchanged(local));

  const listed = await pgstacks(['state', 'list', 'moved'], project.dir, project.processEnv());
  expect(listed.code).toBe(0);
  for (const record of local) expect(listed.output).toMatch(new RegExp(`${record.id}\\s+test:widget\\s+ready\\s+${record.physicalId}`));
  expect((await project.plan()).code).toBe(0);
});

test('a copied cdktf.out keeps its records next to where it is applied, not in the original project', async () => {
  const project = newProject('copied');
  // Terraform's state relative to the stack folder too, so the copy is self-contained.
  project.backend = (stack) => new LocalBackend(stack, { path: 'terraform.tfstate' });
  declareWidgets(project, 'copied', 2, { postgres: false });

  const copyRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-copy-'));
  scratch.push(copyRoot);
  fs.cpSync(project.outdir, path.join(copyRoot, 'cdktf.out'), { recursive: true });
  fs.rmSync(project.outdir, { recursive: true, force: true });
  const copiedStack = path.join(copyRoot, 'cdktf.out', 'stacks', 'copied');
  await project.applyOk([], copiedStack);

  expectRecordsMatchWidgets(await new LocalDirectoryStore(path.join(copyRoot, '.pgstacks', 'state')).list('copied'), 'copied', 2);
  expect(fs.existsSync(path.join(project.dir, '.pgstacks'))).toBe(false);
  expect(fs.readdirSync(copyRoot).sort()).toEqual(['.pgstacks', 'cdktf.out']);
  const plan = await project.terraform(['plan', '-input=false', '-detailed-exitcode'], copiedStack);
  expect(plan.output).toContain('No changes.');
  expect(plan.code).toBe(0);
});
