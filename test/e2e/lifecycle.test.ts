/**
 * The whole path: synthesized stacks applied by the real `terraform` binary, the handler talking
 * HTTP to the widget server. Each test runs alone: it gets a fresh project (and, with PostgreSQL, a
 * fresh database), deploys the starting state it needs (`given`), then makes its own change. Every
 * test runs once with the default local state store and once with the PostgreSQL store
 * (StateBackend.postgres under PG_CONN_STR; the run marker stays a local file next to the project
 * with either store): the same deploys must do the same remote work and leave the same records,
 * wherever the records are kept.
 */
import type { TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Pgstacks, RemovalPolicy, Secret, StateBackend, type PgstacksOptions } from '../../constructs/core';
import type { StateStore } from '../../src/runtime/state';
import { startStatePostgres, type StatePostgres } from '../support/postgres';
import { TerraformProject } from '../support/terraform';
import { Gadget, Widget, type WidgetProps } from '../support/widget';
import { widgetType } from '../support/widget-type';
import { WidgetServer } from '../support/widget-server';


/** One server for the file, started by the first postgres test; a database per test. */
let postgres: StatePostgres | undefined;
let databases = 0;
afterAll(async () => {
  await postgres?.stop();
});

/** How a deploy of one kind of state store is set up. */
interface StoreSetup {
  /** Pgstacks.configure with the store's backend and `options`, at most once per synth. */
  configure(stack: TerraformStack, options?: PgstacksOptions): void;
  /** Where the records are read from. */
  readonly records: StateStore;
  /** The environment every terraform run needs (the connection string). */
  readonly env: Record<string, string>;
  /** Releases what reading the records holds open (the PostgreSQL pool). */
  close(): Promise<void>;
}

async function storeSetup(kind: 'local' | 'postgres', project: TerraformProject): Promise<StoreSetup> {
  if (kind === 'local') {
    // The default: no configure call at all, unless a test configures something else.
    return { configure: (stack, options) => options && Pgstacks.configure(stack, options), records: project.store, env: {}, close: async () => undefined };
  }
  postgres ??= await startStatePostgres(0);
  const url = await postgres.createDatabase(`lifecycle_${++databases}`);
  const records = postgres.store(url);
  return {
    configure: (stack, options = {}) => Pgstacks.configure(stack, { ...options, stateBackend: StateBackend.postgres({ connectionString: Secret.fromEnv('PG_CONN_STR') }) }),
    records,
    env: { PG_CONN_STR: url },
    close: () => records.close(),
  };
}

/** Whether Terraform's state in `project` still holds resources (so there is something to destroy). */
function hasResources(project: TerraformProject): boolean {
  const file = path.join(project.dir, 'terraform.tfstate');
  if (!fs.existsSync(file)) return false;
  const state = JSON.parse(fs.readFileSync(file, 'utf8')) as { resources?: unknown[] };
  return (state.resources?.length ?? 0) > 0;
}

describe.each(['local', 'postgres'] as const)('with the %s state store', (kind) => {
  let server: WidgetServer;
  let project: TerraformProject;
  let setup: StoreSetup;
  let store: StateStore;

  beforeAll(async () => {
    server = await new WidgetServer().start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  beforeEach(async () => {
    // The server is shared by the block's tests; no test sees another's objects or calls.
    server.things.clear();
    server.resetCalls();
    server.requiredToken = undefined;
    project = new TerraformProject();
    setup = await storeSetup(kind, project);
    store = setup.records;
    project.env = { ...setup.env };
  });
  afterEach(async () => {
    try {
      if (hasResources(project)) await project.destroy();
    } finally {
      await setup?.close();
      project.cleanup();
    }
  });

  /** Synthesizes the stack `build` declares, its state store configured. */
  function synth(build: (stack: TerraformStack) => void, options?: PgstacksOptions): void {
    project.synth((stack) => {
      setup.configure(stack, options);
      build(stack);
    });
  }

  type Declared = Record<string, Partial<WidgetProps> & { kind?: 'gadget' }>;

  /** Synthesizes one widget (or gadget) per entry, keyed by construct id. */
  function declare(resources: Declared, extra?: (stack: TerraformStack) => void): void {
    synth((stack) => {
      for (const [id, props] of Object.entries(resources)) {
        const Kind = props.kind === 'gadget' ? Gadget : Widget;
        new Kind(stack, id, { endpoint: server.url, name: id, size: 1, ...props });
      }
      extra?.(stack);
    });
  }

  /** The starting state of a test: `resources` declared and applied, then the call log emptied. */
  async function given(resources: Declared): Promise<void> {
    declare(resources);
    await project.applyOk();
    server.resetCalls();
  }

  /** Two widgets and a gadget (RETAIN by default). */
  const deployed = (): Declared => ({ alpha: {}, beta: { size: 2 }, keep: { kind: 'gadget' } });

  const names = (collection = 'widgets') => server.list(collection).map((t) => t.name).sort();

  test('create: each construct becomes one remote object and one ready record', async () => {
    declare(deployed());
    const output = await project.applyOk();
    expect(names()).toEqual(['alpha', 'beta']);
    expect(names('gadgets')).toEqual(['keep']);
    const records = await store.list('test');
    expect(records.map((r) => [r.id, r.status])).toEqual([['alpha', 'ready'], ['beta', 'ready'], ['keep', 'ready']]);
    expect(output).toMatch(/terraform_data\.pgstacks \(local-exec\): pgstacks: alpha: created test:widget w-\d+ in \d+m?s/);
    expect(output).toContain('local-exec: Executing: Suppressed by quiet=true');
    // Every record where the setup says: with PostgreSQL, the local folder holds only the run marker.
    const dir = path.join(project.dir, '.pgstacks', 'state', 'test');
    const localRecords = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.startsWith('_stack.records') || f.startsWith('_stack.journal')) : [];
    expect(localRecords.length > 0).toBe(kind === 'local');
  });

  test('re-apply with no change: no plan diff and zero write calls', async () => {
    await given(deployed());
    declare(deployed());
    const plan = await project.plan();
    expect(plan.code).toBe(0);
    expect(plan.output).toContain('No changes.');
    const output = await project.applyOk();
    expect(output).toContain('Resources: 0 added, 0 changed, 0 destroyed');
    expect(server.calls).toEqual([]);
  });

  test('a mutable change updates in place: the plan names the field; no delete, no create', async () => {
    await given(deployed());
    const before = server.list().find((t) => t.name === 'beta')!;
    declare({ ...deployed(), beta: { size: 7, color: 'green' } });
    const plan = await project.plan();
    expect(plan.code).toBe(2);
    expect(plan.output).toMatch(/~ size\s+= 2 -> 7/);
    expect(plan.output).toMatch(/\+ color\s+= "green"/);
    const output = await project.applyOk();
    expect(server.writes('PATCH')).toBe(1);
    expect(server.writes('DELETE') + server.writes('POST')).toBe(0);
    expect(server.list().find((t) => t.name === 'beta')).toMatchObject({ id: before.id, size: 7, color: 'green' });
    expect(output).toMatch(/beta: updated test:widget w-\d+ in place \(color, size\)/);
    expect((await store.get('test', 'beta'))?.props).toMatchObject({ size: 7, color: 'green' });
  });

  test('an immutable change replaces the remote object', async () => {
    await given(deployed());
    const before = server.list().find((t) => t.name === 'alpha')!;
    declare({ ...deployed(), alpha: { name: 'alpha-2' } });
    const output = await project.applyOk();
    expect(server.calls.filter((c) => c.method !== 'GET').map((c) => `${c.method} ${c.path}`)).toEqual([`DELETE /widgets/${before.id}`, 'POST /widgets']);
    expect(names()).toEqual(['alpha-2', 'beta']);
    expect((await store.get('test', 'alpha'))?.physicalId).toBe(server.list().find((t) => t.name === 'alpha-2')?.id);
    expect(output).toMatch(/alpha: replaced \(name changed\)/);
  });

  test('replacing a RETAIN resource fails the apply with a how-to and leaves it alone', async () => {
    await given(deployed());
    const recordsBefore = await store.list('test');
    declare({ ...deployed(), keep: { kind: 'gadget', name: 'kept-renamed' } });
    const result = await project.apply();
    expect(result.code).toBe(1);
    expect(result.output).toContain('changing name ("keep" -> "kept-renamed") needs a replacement');
    expect(result.output).toContain('set allowReplacement: true on the construct');
    expect(server.writes()).toBe(0);
    expect(names('gadgets')).toEqual(['keep']);
    expect(await store.list('test')).toEqual(recordsBefore);
  });

  test('removing a construct deletes its object (prune); a removed RETAIN resource is forgotten, not deleted', async () => {
    await given(deployed());
    declare({ alpha: {} });
    const output = await project.applyOk();
    expect(names()).toEqual(['alpha']);
    expect(names('gadgets')).toEqual(['keep']);
    expect(server.writes('DELETE')).toBe(1);
    expect((await store.list('test')).map((r) => r.id)).toEqual(['alpha']);
    expect(output).toMatch(/terraform_data\.pgstacks \(local-exec\): pgstacks: beta: deleted \(no longer in the code\) test:widget w-\d+/);
    expect(output).toMatch(/pgstacks: keep: forgot \(no longer in the code\): removal policy RETAIN, so test:gadget g-\d+ was kept/);
  });

  test('a rename with an alias moves the record: no delete, no create', async () => {
    await given({ alpha: {} });
    const before = server.list()[0];
    synth((stack) => {
      new Widget(new Construct(stack, 'team'), 'first', { endpoint: server.url, name: 'alpha', size: 1, aliases: ['alpha'] });
    });
    const output = await project.applyOk();
    expect(server.writes()).toBe(0);
    expect(server.list()).toEqual([before]);
    expect((await store.list('test')).map((r) => [r.id, r.physicalId])).toEqual([['team/first', before.id]]);
    expect(output).toContain("team/first: moved from 'alpha' (alias)");
  });

  test('terraform destroy deletes everything it manages', async () => {
    synth((stack) => {
      const first = new Widget(new Construct(stack, 'team'), 'first', { endpoint: server.url, name: 'first', size: 1 });
      new Widget(stack, 'second', { endpoint: server.url, name: 'second', size: 1, label: first.widgetId });
      new Widget(stack, 'kept', { endpoint: server.url, name: 'kept', size: 1, removalPolicy: RemovalPolicy.RETAIN });
    });
    await project.applyOk();
    expect(names()).toEqual(['first', 'kept', 'second']);
    const output = await project.destroyOk();
    expect(names()).toEqual(['kept']);
    expect(await store.list('test')).toEqual([]);
    expect(output).toContain('Destroy complete! Resources: 7 destroyed.'); // 3 constructs, the reconciler, the rerun, the start and the teardown
    // dependents first: second (which references team/first) is deleted before it
    expect(output.indexOf('second: deleted')).toBeLessThan(output.indexOf('team/first: deleted'));
  });

  test('removing the last construct deletes its object while Pgstacks.configure keeps the reconciler', async () => {
    await given({ last: {} });
    expect(names()).toEqual(['last']);
    // A custom type must be named to stay in the handler; built-in types always are.
    synth(() => undefined, { resourceTypes: [widgetType] });
    const output = await project.applyOk();
    expect(names()).toEqual([]);
    expect(await store.list('test')).toEqual([]);
    expect(output).toMatch(/pgstacks: last: deleted \(no longer in the code\)/);
    await project.destroyOk();
  });

  test('-replace of a lifecycle resource re-applies it (a rotated secret); any other change runs the engine once', async () => {
    const [first, second] = ['tok-first-1a2b3c', 'tok-second-4d5e6f'];
    server.requiredToken = first;
    project.env = { ...setup.env, WIDGET_TOKEN: first };
    try {
      const build = (size: number) => synth((stack) => new Widget(stack, 'secured', { endpoint: server.url, name: 'secured', size, token: Secret.fromEnv('WIDGET_TOKEN') }));
      build(1);
      await project.applyOk();
      server.resetCalls();

      // The secret is rotated: Terraform cannot see it, so a plain apply changes nothing...
      server.requiredToken = second;
      project.env = { ...setup.env, WIDGET_TOKEN: second };
      expect(await project.applyOk()).toContain('Resources: 0 added, 0 changed, 0 destroyed');
      expect(server.calls).toEqual([]);
      // ... and -replace of the resource's lifecycle resource re-applies it, through the rerun.
      const forced = await project.applyOk(['-replace=terraform_data.secured']);
      expect(forced).toMatch(/terraform_data\.pgstacks_rerun \(local-exec\): pgstacks: secured: updated test:widget w-\d+ in place \(token\)/);
      expect(server.writes('PATCH')).toBe(1);
      expect(server.writes('POST') + server.writes('DELETE')).toBe(0);

      // A change of the spec replaces the reconciler and the rerun; the engine runs once.
      server.resetCalls();
      build(2);
      const changed = await project.applyOk();
      expect(changed.match(/terraform_data\.pgstacks \(local-exec\): pgstacks: secured: updated/g)).toHaveLength(1);
      expect(changed).not.toContain('terraform_data.pgstacks_rerun (local-exec): pgstacks:');
      expect(server.writes('PATCH')).toBe(1);
      expect(server.list().map((t) => t.size)).toEqual([2]);
    } finally {
      server.requiredToken = undefined;
      project.env = { ...setup.env };
    }
  });

  test('a secret from the environment reaches the API but not the plan, the log or Terraform state', async () => {
    const secret = 'tok-e2e-9f8e7d6c5b';
    server.requiredToken = secret;
    project.env = { ...setup.env, WIDGET_TOKEN: secret };
    try {
      synth((stack) => new Widget(stack, 'secured', { endpoint: server.url, name: 'secured', size: 1, token: Secret.fromEnv('WIDGET_TOKEN') }));
      const output = await project.applyOk();
      expect(names()).toEqual(['secured']);
      expect(output).not.toContain(secret);
      expect(output).toContain('"$secret" = {');
      expect(fs.readFileSync(`${project.dir}/terraform.tfstate`, 'utf8')).not.toContain(secret);
      const records = await store.list('test');
      expect(records.map((r) => r.id)).toEqual(['secured']);
      expect(JSON.stringify(records)).not.toContain(secret);

      project.env = { ...setup.env };
      const failed = await project.destroy();
      expect(failed.code).toBe(1);
      expect(failed.output).toContain('secured (test:widget): needs the environment variable WIDGET_TOKEN (Secret.fromEnv), but it is not set');
      project.env = { ...setup.env, WIDGET_TOKEN: secret };
      await project.destroyOk();
      expect(names()).toEqual([]);
      expect(await store.list('test')).toEqual([]);
    } finally {
      server.requiredToken = undefined;
      project.env = { ...setup.env };
    }
  });
});
