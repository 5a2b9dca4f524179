/**
 * State that survives pipelines, at the engine: the state key checked before any write, secret
 * outputs never stored in plain text unless allowed, corrupt records named with their repair,
 * lost state adopted or stopped with the import command, and temp files of killed writes cleaned.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineHarness, widgetSpec } from '../support/engine';
import { WidgetServer } from '../support/widget-server';

let server: WidgetServer;
let h: EngineHarness;

beforeAll(async () => {
  server = await new WidgetServer().start();
});
afterAll(() => server.stop());
beforeEach(() => {
  server.things.clear();
  server.resetCalls();
  h = new EngineHarness();
});
afterEach(() => h.cleanup());

const props = (name: string, extra: Record<string, unknown> = {}) => ({ endpoint: server.url, name, size: 1, ...extra });
const stackFile = (...parts: string[]) => path.join(h.dir, 'state', 'test', ...parts);

describe('the state key', () => {
  test('a wrong key fails before any write, naming the variable', async () => {
    await h.reconcile([widgetSpec('a', props('alpha'))]);
    server.resetCalls();
    h.env = { PGSTACKS_STATE_KEY: 'a mistyped key' };
    const before = fs.readFileSync(stackFile('_stack.records'), 'utf8');
    await expect(h.reconcile([widgetSpec('a', props('alpha', { size: 2 })), widgetSpec('b', props('beta'))])).rejects.toThrow(
      /PGSTACKS_STATE_KEY is not the key the secret outputs of stack 'test' were sealed with.*nothing was changed/,
    );
    expect(server.writes()).toBe(0);
    expect(fs.readFileSync(stackFile('_stack.records'), 'utf8')).toBe(before);
    expect(fs.existsSync(stackFile('_stack.journal'))).toBe(false);
  });

  test('without a key, secret outputs stop the deploy before its first write and say how to set one', async () => {
    h.env = { PGSTACKS_STATE_KEY: '' };
    await expect(h.reconcile([widgetSpec('a', props('alpha'))])).rejects.toThrow(
      /keeps secret outputs \(of test:widget\), and PGSTACKS_STATE_KEY is not set.*export PGSTACKS_STATE_KEY=.*PGSTACKS_PLAINTEXT_SECRET_OUTPUTS=true.*Nothing was changed/s,
    );
    expect(server.calls).toEqual([]);
    expect(await h.record('a')).toBeUndefined();
  });

  test('plain text is stored only when allowed explicitly', async () => {
    h.env = { PGSTACKS_STATE_KEY: '' };
    h.options = { allowPlaintextSecrets: true };
    await h.reconcile([widgetSpec('a', props('alpha'))]);
    expect((await h.record('a'))?.secretOutputs).toEqual({ encrypted: false, values: { apiKey: server.list()[0].apiKey } });
  });

  test('encrypted secrets and no key: stopped, naming the variable', async () => {
    await h.reconcile([widgetSpec('a', props('alpha'))]);
    h.env = { PGSTACKS_STATE_KEY: '' };
    h.options = { allowPlaintextSecrets: true };
    await expect(h.reconcile([widgetSpec('a', props('alpha'))])).rejects.toThrow(/are encrypted: set PGSTACKS_STATE_KEY to their key/);
  });
});

describe('corrupt records', () => {
  test.each([
    ['fields missing', { stack: 'test', id: 'a', type: 'test:widget' }, /status: missing/],
    ['null', null, /it is null, not a record/],
    ['{}', {}, /it is an empty object/],
    ['[]', [], /it is an array \(\[\]\), not a record/],
    ["another's", (a: object) => ({ ...a, id: 'b' }), /it belongs to logical id 'b' in stack 'test'/],
  ])('a record with %s is an error naming it, where it is and how to repair it; nothing is created', async (_, value, problem) => {
    await h.reconcile([widgetSpec('a', props('alpha'))]);
    const records = JSON.parse(fs.readFileSync(stackFile('_stack.records'), 'utf8'));
    fs.writeFileSync(stackFile('_stack.records'), JSON.stringify({ ...records, a: typeof value === 'function' ? value(records.a) : value }));
    server.resetCalls();
    const error = (await h.reconcile([widgetSpec('a', props('alpha'))]).catch((e: Error) => e)) as Error;
    expect(error.message).toMatch(problem);
    expect(error.message).toContain(`corrupt state record for logical id 'a' in stack 'test' (${stackFile('_stack.records')}, record 'a')`);
    expect(error.message).toMatch(/pgstacks state rm test a.*pgstacks state import test a/);
    expect(server.writes()).toBe(0);
    expect(server.list()).toHaveLength(1);
  });

  test('a truncated records file is an error naming it; nothing is created', async () => {
    await h.reconcile([widgetSpec('a', props('alpha'))]);
    const text = fs.readFileSync(stackFile('_stack.records'), 'utf8');
    fs.writeFileSync(stackFile('_stack.records'), text.slice(0, text.length / 2));
    server.resetCalls();
    await expect(h.reconcile([widgetSpec('a', props('alpha'))])).rejects.toThrow(
      `the state file ${stackFile('_stack.records')} is not a JSON object of records (truncated?); restore it from a backup`,
    );
    expect(server.writes()).toBe(0);
  });
});

describe('lost state', () => {
  const DEPLOYMENT = 'teardown-id-1';

  async function deployThenLose(): Promise<void> {
    await h.engine().registerDeployment('test', DEPLOYMENT);
    h.options = { deployment: DEPLOYMENT };
    await h.reconcile([widgetSpec('w', props('widget')), widgetSpec('g', props('gadget'), { type: 'test:gadget' })]);
    fs.rmSync(path.join(h.dir, 'state'), { recursive: true }); // a fresh CI runner
    server.resetCalls();
  }

  test('a first deploy creates: the deployment was registered when Terraform made the stack', async () => {
    await h.engine().registerDeployment('test', DEPLOYMENT);
    h.options = { deployment: DEPLOYMENT };
    await h.reconcile([widgetSpec('g', props('gadget'), { type: 'test:gadget' })]);
    expect(server.list('gadgets')).toHaveLength(1);
  });

  test('what has a natural key is adopted; what has none stops the run with the import command, which then works', async () => {
    await deployThenLose();
    const stack = [widgetSpec('w', props('widget')), widgetSpec('g', props('gadget'), { type: 'test:gadget' })];
    await expect(h.reconcile(stack)).rejects.toThrow(
      /g: it has no record, though Terraform deployed this stack before: the state was lost.*'pgstacks state import test g <physical id>'.*'pgstacks state import test g --absent'/,
    );
    expect(server.writes()).toBe(0);

    const gadget = server.list('gadgets')[0].id;
    const manifest = { stack: 'test', resources: stack };
    expect(await h.engine().importRecord(manifest, 'g', gadget)).toContain(`imported test:gadget ${gadget} as g`);
    await h.reconcile(stack);
    expect(server.writes()).toBe(0);
    expect(server.list()).toHaveLength(1);
    expect(server.list('gadgets')).toHaveLength(1);
    expect(await h.record('w')).toMatchObject({ status: 'ready', physicalId: server.list()[0].id });
    expect(h.log).toContain(`w: adopted test:widget ${server.list()[0].id} found by its name`);
    expect((await h.store.getMeta('test'))?.deployment).toBe(DEPLOYMENT);
  });

  test('--absent records that a resource does not exist, so the next apply creates it', async () => {
    await deployThenLose();
    server.things.get('gadgets')!.clear();
    const stack = [widgetSpec('g', props('gadget'), { type: 'test:gadget' })];
    await h.engine().importRecord({ stack: 'test', resources: stack }, 'g', undefined);
    await h.reconcile(stack);
    expect(server.list('gadgets')).toHaveLength(1);
  });

  test('import refuses an object that does not exist, or one another record owns', async () => {
    await deployThenLose();
    const stack = [widgetSpec('g', props('gadget'), { type: 'test:gadget' }), widgetSpec('h', props('other'), { type: 'test:gadget' })];
    const manifest = { stack: 'test', resources: stack };
    await expect(h.engine().importRecord(manifest, 'g', 'g-404')).rejects.toThrow(/there is no test:gadget g-404 to import/);
    const gadget = server.list('gadgets')[0].id;
    await h.engine().importRecord(manifest, 'g', gadget);
    await expect(h.engine().importRecord(manifest, 'h', gadget)).rejects.toThrow(`test:gadget ${gadget} is recorded already, as 'g'`);
  });
});

test('temp files of writes killed mid-way are cleaned up; live writers are left alone', async () => {
  await h.reconcile([widgetSpec('a', props('alpha'))]);
  const dead = stackFile('_stack.records.999999.0badc0de.1.tmp');
  const live = stackFile(`_stack.records.${process.pid}.0badc0de.1.tmp`);
  fs.writeFileSync(dead, '{"half');
  fs.writeFileSync(live, '{"half');
  await h.reconcile([widgetSpec('a', props('alpha'))]);
  expect(fs.existsSync(dead)).toBe(false);
  expect(fs.existsSync(live)).toBe(true);
});
