/** The `pgstacks` CLI over a state store the engine wrote. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli } from '../../src/cli';
import { EngineHarness, widgetSpec } from '../support/engine';
import { TEST_STATE_KEY } from '../support/env';
import { WidgetServer } from '../support/widget-server';

let server: WidgetServer;
let h: EngineHarness;

beforeAll(async () => {
  server = await new WidgetServer().start();
});
afterAll(() => server.stop());
beforeEach(async () => {
  server.things.clear();
  h = new EngineHarness();
  await h.reconcile([widgetSpec('team/a', { endpoint: server.url, name: 'alpha', size: 4 })]);
});
afterEach(() => h.cleanup());

async function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await cli([...args, '--state-dir', h.store.description.replace('state directory ', '')], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const keyed = { PGSTACKS_STATE_KEY: TEST_STATE_KEY };
const apiKey = () => server.list().find((t) => t.name === 'alpha')!.apiKey;

test('outputs masks secret outputs unless --reveal', async () => {
  const masked = await run(['outputs', 'test']);
  expect(masked.code).toBe(0);
  expect(masked.out).toMatch(/^team\/a \(test:widget\)\n {2}id\s+w-\d+\n {2}name\s+alpha\n {2}size\s+4/);
  expect(masked.out).toMatch(/apiKey\s+\(sensitive\)/);
  expect(masked.out).not.toContain(apiKey());
  expect(masked.out).toContain('add --reveal to show them');
  expect((await run(['outputs', 'test', '--reveal'], keyed)).out).toContain(apiKey());
});

test('outputs --json is a map of logical id to outputs', async () => {
  const { out } = await run(['outputs', 'test', '--json']);
  expect(JSON.parse(out)).toEqual({ 'team/a': { id: expect.stringMatching(/^w-/), name: 'alpha', size: 4, color: null, label: null, apiKey: '(sensitive)' } });
  expect(JSON.parse((await run(['outputs', 'test', '--json', '--reveal'], keyed)).out)['team/a'].apiKey).toBe(apiKey());
});

test('encrypted secret outputs need the state key to be revealed', async () => {
  expect((await run(['outputs', 'test'])).out).toMatch(/apiKey\s+\(sensitive\)/);
  const denied = await run(['outputs', 'test', '--reveal']);
  expect(denied.code).toBe(1);
  expect(denied.err).toContain('set PGSTACKS_STATE_KEY');
  const wrong = await run(['outputs', 'test', '--reveal'], { PGSTACKS_STATE_KEY: 'not the key' });
  expect(wrong.code).toBe(1);
  expect(wrong.err).toContain('PGSTACKS_STATE_KEY is not the key they were written with');
  expect((await run(['outputs', 'test', '--reveal'], keyed)).code).toBe(0);
});

test('state list, show and rm', async () => {
  const list = await run(['state', 'list', 'test']);
  expect(list.out).toMatch(/^LOGICAL ID\s+TYPE\s+STATUS\s+PHYSICAL ID\s+UPDATED\nteam\/a\s+test:widget\s+ready\s+w-\d+/);
  const show = await run(['state', 'show', 'test', 'team/a']);
  expect(JSON.parse(show.out)).toMatchObject({ id: 'team/a', type: 'test:widget', status: 'ready', secretOutputs: { apiKey: '(sensitive)' } });
  expect(show.out).not.toContain(apiKey());
  const rm = await run(['state', 'rm', 'test', 'team/a']);
  expect(rm.out).toMatch(/Forgot team\/a \(test:widget w-\d+\); the remote object was not touched/);
  expect(server.list()).toHaveLength(1);
  expect(await h.record('team/a')).toBeUndefined();
  expect((await run(['state', 'show', 'test', 'team/a'])).code).toBe(1);
});

test('usage errors exit 2 with the usage', async () => {
  const bad = await run(['state', 'frobnicate']);
  expect(bad.code).toBe(2);
  expect(bad.err).toContain('Usage: pgstacks');
  expect((await run(['outputs', 'nosuchstack'])).err).toContain("no records for stack 'nosuchstack'");
});

test('the bin runs the handler commands', () => {
  const manifest = path.join(h.dir, 'manifest.json');
  // The bin knows only the built-in types, so the stack is one with none.
  fs.writeFileSync(manifest, JSON.stringify({ stack: 'empty', resources: [] }));
  const result = spawnSync(path.join(__dirname, '../../bin/pgstacks'), ['handler', 'reconcile'], {
    env: { ...process.env, PGSTACKS_MANIFEST: manifest, PGSTACKS_STATE_DIR: path.join(h.dir, 'state') },
    encoding: 'utf8',
  });
  expect(result.stdout).toContain("No changes: all 0 resources of stack 'empty' match the code.");
  expect(result.status).toBe(0);
});
