/**
 * The whole path: synthesized stacks applied by the real `terraform` binary, the handler talking
 * HTTP to the widget server. Steps run in order on one project, as a user's deploys would.
 */
import type { TerraformStack } from 'cdktf';
import * as fs from 'node:fs';
import { Pgstacks, RemovalPolicy, Secret } from '../../constructs/core';
import { TerraformProject } from '../support/terraform';
import { Gadget, Widget, type WidgetProps } from '../support/widget';
import { widgetType } from '../support/widget-type';
import { WidgetServer } from '../support/widget-server';

let server: WidgetServer;
let project: TerraformProject;

beforeAll(async () => {
  server = await new WidgetServer().start();
  project = new TerraformProject();
});
afterAll(async () => {
  await server.stop();
  project.cleanup();
});

type Declared = Record<string, Partial<WidgetProps> & { kind?: 'gadget' }>;

/** Synthesizes one widget (or gadget) per entry, keyed by construct id. */
function declare(resources: Declared, extra?: (stack: TerraformStack) => void): void {
  project.synth((stack) => {
    for (const [id, props] of Object.entries(resources)) {
      const Kind = props.kind === 'gadget' ? Gadget : Widget;
      new Kind(stack, id, { endpoint: server.url, name: id, size: 1, ...props });
    }
    extra?.(stack);
  });
}

const names = (kind = 'widgets') => server.list(kind).map((t) => t.name).sort();

test('create: each construct becomes one remote object and one ready record', async () => {
  declare({ alpha: {}, beta: { size: 2 }, keep: { kind: 'gadget' } });
  const output = await project.applyOk();
  expect(names()).toEqual(['alpha', 'beta']);
  expect(names('gadgets')).toEqual(['keep']);
  const records = await project.store.list('test');
  expect(records.map((r) => [r.id, r.status])).toEqual([['alpha', 'ready'], ['beta', 'ready'], ['keep', 'ready']]);
  expect(output).toMatch(/terraform_data\.pgstacks \(local-exec\): pgstacks: alpha: created test:widget w-\d+ in \d+m?s/);
  expect(output).toContain('local-exec: Executing: Suppressed by quiet=true');
});

test('re-apply with no change: no plan diff and zero write calls', async () => {
  server.resetCalls();
  declare({ alpha: {}, beta: { size: 2 }, keep: { kind: 'gadget' } });
  const plan = await project.plan();
  expect(plan.code).toBe(0);
  expect(plan.output).toContain('No changes.');
  const output = await project.applyOk();
  expect(output).toContain('Resources: 0 added, 0 changed, 0 destroyed');
  expect(server.calls).toEqual([]);
});

test('a mutable change updates in place: the plan names the field; no delete, no create', async () => {
  const before = server.list().find((t) => t.name === 'beta')!;
  server.resetCalls();
  declare({ alpha: {}, beta: { size: 7, color: 'green' }, keep: { kind: 'gadget' } });
  const plan = await project.plan();
  expect(plan.code).toBe(2);
  expect(plan.output).toMatch(/~ size\s+= 2 -> 7/);
  expect(plan.output).toMatch(/\+ color\s+= "green"/);
  const output = await project.applyOk();
  expect(server.writes('PATCH')).toBe(1);
  expect(server.writes('DELETE') + server.writes('POST')).toBe(0);
  expect(server.list().find((t) => t.name === 'beta')).toMatchObject({ id: before.id, size: 7, color: 'green' });
  expect(output).toMatch(/beta: updated test:widget w-\d+ in place \(color, size\)/);
});

test('an immutable change replaces the remote object', async () => {
  const before = server.list().find((t) => t.name === 'alpha')!;
  server.resetCalls();
  declare({ alpha: { name: 'alpha-2' }, beta: { size: 7, color: 'green' }, keep: { kind: 'gadget' } });
  const output = await project.applyOk();
  expect(server.calls.filter((c) => c.method !== 'GET').map((c) => `${c.method} ${c.path}`)).toEqual([`DELETE /widgets/${before.id}`, 'POST /widgets']);
  expect(names()).toEqual(['alpha-2', 'beta']);
  expect((await project.store.get('test', 'alpha'))?.physicalId).toBe(server.list().find((t) => t.name === 'alpha-2')?.id);
  expect(output).toMatch(/alpha: replaced \(name changed\)/);
});

test('replacing a RETAIN resource fails the apply with a how-to and leaves it alone', async () => {
  server.resetCalls();
  declare({ alpha: { name: 'alpha-2' }, beta: { size: 7, color: 'green' }, keep: { kind: 'gadget', name: 'kept-renamed' } });
  const result = await project.apply();
  expect(result.code).toBe(1);
  expect(result.output).toContain('changing name ("keep" -> "kept-renamed") needs a replacement');
  expect(result.output).toContain('set allowReplacement: true on the construct');
  expect(server.writes()).toBe(0);
  expect(names('gadgets')).toEqual(['keep']);
});

test('removing a construct deletes its object (prune); a removed RETAIN resource is forgotten, not deleted', async () => {
  server.resetCalls();
  declare({ alpha: { name: 'alpha-2' } });
  const output = await project.applyOk();
  expect(names()).toEqual(['alpha-2']);
  expect(names('gadgets')).toEqual(['keep']);
  expect(server.writes('DELETE')).toBe(1);
  expect((await project.store.list('test')).map((r) => r.id)).toEqual(['alpha']);
  expect(output).toMatch(/terraform_data\.pgstacks \(local-exec\): pgstacks: beta: deleted \(no longer in the code\) test:widget w-\d+/);
  expect(output).toMatch(/pgstacks: keep: forgot \(no longer in the code\): removal policy RETAIN, so test:gadget g-\d+ was kept/);
});

test('a rename with an alias moves the record: no delete, no create', async () => {
  const before = server.list()[0];
  server.resetCalls();
  project.synth((stack) => {
    const { Construct } = require('constructs');
    new Widget(new Construct(stack, 'team'), 'first', { endpoint: server.url, name: 'alpha-2', size: 1, aliases: ['alpha'] });
  });
  const output = await project.applyOk();
  expect(server.writes()).toBe(0);
  expect(server.list()).toEqual([before]);
  expect((await project.store.list('test')).map((r) => [r.id, r.physicalId])).toEqual([['team/first', before.id]]);
  expect(output).toContain("team/first: moved from 'alpha' (alias)");
});

test('terraform destroy deletes everything it manages', async () => {
  project.synth((stack) => {
    const { Construct } = require('constructs');
    const first = new Widget(new Construct(stack, 'team'), 'first', { endpoint: server.url, name: 'alpha-2', size: 1, aliases: ['alpha'] });
    new Widget(stack, 'second', { endpoint: server.url, name: 'second', size: 1, label: first.widgetId });
    new Widget(stack, 'kept', { endpoint: server.url, name: 'kept', size: 1, removalPolicy: RemovalPolicy.RETAIN });
  });
  await project.applyOk();
  expect(names()).toEqual(['alpha-2', 'kept', 'second']);
  const output = await project.destroyOk();
  expect(names()).toEqual(['kept']);
  expect(await project.store.list('test')).toEqual([]);
  expect(output).toContain('Destroy complete! Resources: 5 destroyed.'); // 3 constructs, the reconciler and the teardown
  // dependents first: second (which references team/first) is deleted before it
  expect(output.indexOf('second: deleted')).toBeLessThan(output.indexOf('team/first: deleted'));
});

test('removing the last construct deletes its object while Pgstacks.configure keeps the reconciler', async () => {
  declare({ last: {} }, (stack) => void stack);
  await project.applyOk();
  expect(names()).toContain('last');
  // A custom type must be named to stay in the handler; built-in types always are.
  project.synth((stack) => Pgstacks.configure(stack, { resourceTypes: [widgetType] }));
  const output = await project.applyOk();
  expect(names()).not.toContain('last');
  expect(await project.store.list('test')).toEqual([]);
  expect(output).toMatch(/pgstacks: last: deleted \(no longer in the code\)/);
  await project.destroyOk();
});

test('a secret from the environment reaches the API but not the plan, the log or Terraform state', async () => {
  const secret = 'tok-e2e-9f8e7d6c5b';
  server.requiredToken = secret;
  project.env = { WIDGET_TOKEN: secret };
  try {
    project.synth((stack) => new Widget(stack, 'secured', { endpoint: server.url, name: 'secured', size: 1, token: Secret.fromEnv('WIDGET_TOKEN') }));
    const output = await project.applyOk();
    expect(names()).toContain('secured');
    expect(output).not.toContain(secret);
    expect(output).toContain('"$secret" = {');
    expect(fs.readFileSync(`${project.dir}/terraform.tfstate`, 'utf8')).not.toContain(secret);
    expect(JSON.stringify(await project.store.list('test'))).not.toContain(secret);

    project.env = {};
    const failed = await project.destroy();
    expect(failed.code).toBe(1);
    expect(failed.output).toContain('secured (test:widget): needs the environment variable WIDGET_TOKEN (Secret.fromEnv), but it is not set');
    project.env = { WIDGET_TOKEN: secret };
    await project.destroyOk();
    expect(names()).not.toContain('secured');
  } finally {
    server.requiredToken = undefined;
    project.env = {};
  }
});
