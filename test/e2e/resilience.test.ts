/**
 * Terraform's parallelism, a handler killed mid-create, and a cdktf.out applied from elsewhere.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TerraformProject } from '../support/terraform';
import { Widget } from '../support/widget';
import { WidgetServer } from '../support/widget-server';

let server: WidgetServer;
const projects: TerraformProject[] = [];

beforeAll(async () => {
  server = await new WidgetServer().start();
});
afterAll(async () => {
  await server.stop();
  for (const p of projects) p.cleanup();
});
beforeEach(() => {
  server.things.clear();
  server.resetCalls();
});

function newProject(): TerraformProject {
  const project = new TerraformProject();
  projects.push(project);
  return project;
}

test('30 resources at -parallelism=10 leave a consistent state store', async () => {
  const project = newProject();
  const declare = (size: number) =>
    project.synth((stack) => {
      for (let i = 0; i < 30; i++) new Widget(stack, `w${i}`, { endpoint: server.url, name: `widget-${i}`, size });
    });

  declare(1);
  await project.applyOk(['-parallelism=10']);
  const check = async (size: number) => {
    const remote = server.list();
    expect(remote).toHaveLength(30);
    const records = await project.store.list('test');
    expect(records).toHaveLength(30);
    for (const record of records) {
      expect(record.status).toBe('ready');
      expect(remote.find((t) => t.id === record.physicalId)).toMatchObject({ name: `widget-${record.id.slice(1)}`, size });
    }
    const stateDir = path.join(project.dir, '.pgstacks', 'state', 'test');
    const files = fs.readdirSync(stateDir);
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    for (const file of files) expect(fs.statSync(path.join(stateDir, file)).mode & 0o777).toBe(0o600);
    expect(fs.statSync(stateDir).mode & 0o777).toBe(0o700);
  };
  await check(1);
  expect(server.writes('POST')).toBe(30);

  server.resetCalls();
  declare(2);
  await project.applyOk(['-parallelism=10']);
  await check(2);
  expect(server.writes('PATCH')).toBe(30);
  expect(server.writes()).toBe(30);

  await project.destroyOk(['-parallelism=10']);
  expect(server.list()).toEqual([]);
  expect(await project.store.list('test')).toEqual([]);
});

test('a handler killed between the remote create and the record write converges on re-apply with one object', async () => {
  const project = newProject();
  project.synth((stack) => new Widget(stack, 'fragile', { endpoint: server.url, name: 'fragile', size: 1 }));
  server.crashAfterNextCreate = true;
  const crashed = await project.apply();
  expect(crashed.code).not.toBe(0);
  expect(crashed.output).toMatch(/signal: killed/); // SIGKILL
  expect(server.list()).toHaveLength(1);
  expect(await project.store.get('test', 'fragile')).toMatchObject({ status: 'creating' });
  expect((await project.store.get('test', 'fragile'))?.physicalId).toBeUndefined();

  const output = await project.applyOk();
  expect(server.list()).toHaveLength(1);
  expect(server.writes('POST')).toBe(1);
  expect(await project.store.get('test', 'fragile')).toMatchObject({ status: 'ready', physicalId: server.list()[0].id });
  expect(output).toContain(`fragile: adopted test:widget ${server.list()[0].id} left by an interrupted apply`);
  await project.destroyOk();
  expect(server.list()).toEqual([]);
});

test('a copied cdktf.out applies from another directory, with only node and terraform', async () => {
  const project = newProject();
  project.synth((stack) => new Widget(stack, 'portable', { endpoint: server.url, name: 'portable', size: 3 }));
  const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-copied-'));
  fs.cpSync(project.outdir, path.join(elsewhere, 'out'), { recursive: true });
  fs.rmSync(project.outdir, { recursive: true });
  const stackDir = path.join(elsewhere, 'out', 'stacks', 'test');
  // Nothing above the copy may provide node_modules: the handler bundle must carry everything.
  for (let dir = stackDir; dir !== path.dirname(dir); dir = path.dirname(dir)) expect(fs.existsSync(path.join(dir, 'node_modules'))).toBe(false);
  try {
    await project.applyOk([], stackDir);
    expect(server.list()).toEqual([expect.objectContaining({ name: 'portable', size: 3 })]);
    const destroyed = await project.terraform(['destroy', '-auto-approve', '-input=false'], stackDir);
    expect(destroyed.code).toBe(0);
    expect(server.list()).toEqual([]);
  } finally {
    fs.rmSync(elsewhere, { recursive: true, force: true });
  }
});
