/**
 * The lifecycle engine against the widget server, without Terraform: each decision of DESIGN.md §1
 * is checked on the remote side (calls made, objects present) and in the state store.
 */
import { EngineHarness, widgetSpec } from '../support/engine';
import { WidgetServer } from '../support/widget-server';
import { openSecrets } from '../../src/runtime/state';

let server: WidgetServer;
let h: EngineHarness;

beforeAll(async () => {
  server = await new WidgetServer().start();
});
afterAll(() => server.stop());
beforeEach(() => {
  server.things.clear();
  server.resetCalls();
  server.requiredToken = undefined;
  server.crashAfterNextCreate = false;
  h = new EngineHarness();
});
afterEach(() => h.cleanup());

const props = (extra: Record<string, unknown> = {}) => ({ endpoint: server.url, name: 'alpha', size: 1, ...extra });
const calls = () => server.calls.map((c) => `${c.method} ${c.path}`);

describe('apply', () => {
  test('creates the object and records it, with secret outputs kept apart', async () => {
    await h.apply(widgetSpec('a', props()));
    expect(server.list()).toHaveLength(1);
    const record = await h.record('a');
    expect(record).toMatchObject({ status: 'ready', physicalId: server.list()[0].id, outputs: { name: 'alpha', size: 1 } });
    expect(record?.outputs).not.toHaveProperty('apiKey');
    expect(openSecrets(record!.secretOutputs!, undefined)).toEqual({ apiKey: server.list()[0].apiKey });
    expect(h.lines.join('\n')).toMatch(/a: created test:widget w-\d+ in \d+ms/);
    expect(h.lines.join('\n')).not.toContain(server.list()[0].apiKey);
  });

  test('an unchanged spec makes no write call', async () => {
    await h.apply(widgetSpec('a', props()));
    server.resetCalls();
    await h.apply(widgetSpec('a', props()));
    expect(calls()).toEqual([`GET /widgets/${server.list()[0].id}`]);
    expect(h.lines.at(-1)).toContain('is up to date');
  });

  test('an object deleted behind our back is created again', async () => {
    await h.apply(widgetSpec('a', props()));
    server.things.get('widgets')!.clear();
    await h.apply(widgetSpec('a', props()));
    expect(server.list()).toHaveLength(1);
    expect((await h.record('a'))?.physicalId).toBe(server.list()[0].id);
    expect(h.lines.join('\n')).toContain('is gone (deleted outside pgstacks); creating it again');
  });

  test('a mutable change updates in place', async () => {
    await h.apply(widgetSpec('a', props()));
    const id = server.list()[0].id;
    server.resetCalls();
    await h.apply(widgetSpec('a', props({ size: 5, color: 'red' })));
    expect(calls()).toEqual([`GET /widgets/${id}`, `PATCH /widgets/${id}`]);
    expect(server.list()).toEqual([expect.objectContaining({ id, size: 5, color: 'red' })]);
    expect((await h.record('a'))?.outputs).toMatchObject({ size: 5, color: 'red' });
    expect(h.lines.at(-1)).toMatch(/updated test:widget .* in place \(color, size\)/);
  });

  test('an immutable change replaces, deleting first when names are unique', async () => {
    await h.apply(widgetSpec('a', props()));
    const old = server.list()[0].id;
    server.resetCalls();
    await h.apply(widgetSpec('a', props({ name: 'beta' })));
    expect(calls()).toEqual([`GET /widgets/${old}`, `DELETE /widgets/${old}`, 'POST /widgets']);
    expect(server.list()).toEqual([expect.objectContaining({ name: 'beta' })]);
    expect((await h.record('a'))?.physicalId).toBe(server.list()[0].id);
  });

  test('a create-before-delete type creates the new object before deleting the old', async () => {
    const gadget = (name: string) => widgetSpec('g', props({ name }), { type: 'test:gadget' });
    await h.apply(gadget('alpha'));
    const old = server.list('gadgets')[0].id;
    server.resetCalls();
    await h.apply(gadget('beta'));
    expect(calls()).toEqual([`GET /gadgets/${old}`, 'POST /gadgets', `DELETE /gadgets/${old}`]);
  });

  test('replacing a RETAIN resource is refused with a how-to, and nothing is touched', async () => {
    await h.apply(widgetSpec('a', props(), { removalPolicy: 'retain' }));
    server.resetCalls();
    await expect(h.apply(widgetSpec('a', props({ name: 'beta' }), { removalPolicy: 'retain' }))).rejects.toThrow(
      /changing name \("alpha" -> "beta"\) needs a replacement.*RETAIN.*allowReplacement: true/,
    );
    expect(server.writes()).toBe(0);
    await h.apply(widgetSpec('a', props({ name: 'beta' }), { removalPolicy: 'retain', allowReplacement: true }));
    expect(server.list()).toEqual([expect.objectContaining({ name: 'beta' })]);
  });

  test('an interrupted create is adopted on retry, never duplicated', async () => {
    const spec = widgetSpec('a', props());
    // Simulate the crash: the intent record exists and the object was made, but not recorded.
    await h.store.put({
      stack: 'test', id: 'a', type: 'test:widget', status: 'creating', spec, props: spec.props, outputs: {},
      dependencies: [], createdAt: '', updatedAt: '', handlerVersion: 'test',
    });
    server.things.set('widgets', new Map([['w-99', { id: 'w-99', name: 'alpha', size: 1, apiKey: 'k' }]]));
    server.resetCalls();
    await h.apply(spec);
    expect(server.writes()).toBe(0);
    expect(server.list()).toHaveLength(1);
    expect(await h.record('a')).toMatchObject({ status: 'ready', physicalId: 'w-99' });
    expect(h.lines.join('\n')).toContain('adopted test:widget w-99 left by an interrupted apply');
  });

  test('a record found under an alias is moved, not recreated', async () => {
    await h.apply(widgetSpec('old/a', props()));
    server.resetCalls();
    await h.apply(widgetSpec('new/a', props(), { aliases: ['old/a'] }));
    expect(server.writes()).toBe(0);
    expect(await h.record('old/a')).toBeUndefined();
    expect((await h.record('new/a'))?.physicalId).toBe(server.list()[0].id);
    expect(h.lines.join('\n')).toContain("moved from 'old/a' (alias)");
  });

  test('references resolve from the referenced record, and are recorded as dependencies', async () => {
    await h.apply(widgetSpec('a', props()));
    const ref = { $ref: { resource: 'a', attribute: 'id' } };
    await h.apply(widgetSpec('b', props({ name: 'beta', label: { $concat: ['child-of-', ref] } })));
    const a = server.list().find((t) => t.name === 'alpha')!;
    expect(server.list().find((t) => t.name === 'beta')?.label).toBe(`child-of-${a.id}`);
    expect((await h.record('b'))?.dependencies).toEqual(['a']);
  });

  test('a reference to a resource not yet applied fails clearly', async () => {
    const spec = widgetSpec('b', props({ label: { $ref: { resource: 'nope', attribute: 'id' } } }));
    await expect(h.apply(spec)).rejects.toThrow("b references nope.id, but nope has not been applied yet");
  });

  test('a missing secret variable names the variable and the resource', async () => {
    const spec = widgetSpec('a', props({ token: { $secret: { fromEnv: 'WIDGET_TOKEN' } } }));
    await expect(h.apply(spec)).rejects.toThrow(/a \(test:widget\) needs the environment variable WIDGET_TOKEN \(Secret\.fromEnv\), but it is not set/);
    expect(server.calls).toHaveLength(0);
  });

  test('secrets reach the handler, never the record or the log, and a changed secret counts as a change', async () => {
    server.requiredToken = 's3cret-token-1';
    h.env = { WIDGET_TOKEN: 's3cret-token-1' };
    const spec = widgetSpec('a', props({ token: { $secret: { fromEnv: 'WIDGET_TOKEN' } } }));
    await h.apply(spec);
    server.resetCalls();
    server.requiredToken = 's3cret-token-2';
    h.env = { WIDGET_TOKEN: 's3cret-token-2' };
    await h.apply(spec);
    expect(server.writes('PATCH')).toBe(1);
    const stored = JSON.stringify(await h.record('a'));
    expect(stored).not.toContain('s3cret-token');
    expect(h.lines.join('\n')).not.toContain('s3cret-token');
  });

  test('an API error that echoes a secret is reported masked', async () => {
    server.requiredToken = 'right-token';
    h.env = { WIDGET_TOKEN: 'wrong-token-value' };
    const spec = widgetSpec('a', props({ token: { $secret: { fromEnv: 'WIDGET_TOKEN' } } }));
    const error = (await h.apply(spec).catch((e: Error) => e)) as Error;
    expect(error.message).toContain('create failed: POST /widgets: HTTP 401 {"error":"bad token: Bearer ***"}');
    expect(error.message).not.toContain('wrong-token-value');
  });

  test('secret outputs are encrypted when PGSTACKS_STATE_KEY is set', async () => {
    h.env = { PGSTACKS_STATE_KEY: 'correct horse battery staple' };
    await h.apply(widgetSpec('a', props()));
    const record = await h.record('a');
    expect(record?.secretOutputs).toMatchObject({ encrypted: true, alg: 'aes-256-gcm', names: ['apiKey'] });
    expect(JSON.stringify(record)).not.toContain(server.list()[0].apiKey);
    expect(openSecrets(record!.secretOutputs!, 'correct horse battery staple')).toEqual({ apiKey: server.list()[0].apiKey });
    expect(() => openSecrets(record!.secretOutputs!, 'wrong key')).toThrow(/not the key they were written with/);
  });

  test('invalid props at apply name the field', async () => {
    await expect(h.apply(widgetSpec('a', props({ size: 500 })))).rejects.toThrow(/a \(test:widget\): invalid props: size: Too big/);
  });
});

describe('destroy and prune', () => {
  test('destroy deletes a DESTROY resource and is idempotent', async () => {
    const spec = widgetSpec('a', props());
    await h.apply(spec);
    await h.destroy(spec);
    expect(server.list()).toHaveLength(0);
    expect(await h.record('a')).toBeUndefined();
    await h.destroy(spec);
    expect(h.lines.at(-1)).toContain('nothing to delete');
  });

  test('destroy of an object already gone remotely still succeeds', async () => {
    const spec = widgetSpec('a', props());
    await h.apply(spec);
    server.things.get('widgets')!.clear();
    await h.destroy(spec);
    expect(await h.record('a')).toBeUndefined();
  });

  test('destroy forgets a RETAIN resource and keeps the object', async () => {
    const spec = widgetSpec('a', props(), { removalPolicy: 'retain' });
    await h.apply(spec);
    server.resetCalls();
    await h.destroy(spec);
    expect(server.writes()).toBe(0);
    expect(server.list()).toHaveLength(1);
    expect(await h.record('a')).toBeUndefined();
    expect(h.lines.at(-1)).toMatch(/forgot: removal policy RETAIN, so test:widget w-\d+ was kept/);
  });

  test('prune deletes undeclared resources, dependents first, and keeps declared ones and aliases', async () => {
    await h.apply(widgetSpec('parent', props({ name: 'parent' })));
    await h.apply(widgetSpec('child', props({ name: 'child', label: { $ref: { resource: 'parent', attribute: 'id' } } })));
    await h.apply(widgetSpec('kept', props({ name: 'kept' })));
    await h.apply(widgetSpec('aliased', props({ name: 'aliased' })));
    server.resetCalls();
    await h.prune(['kept'], ['aliased']);
    const deleted = server.calls.filter((c) => c.method === 'DELETE').map((c) => c.path);
    const id = (name: string) => `/widgets/${[...server.things.get('widgets')!.values()].find((t) => t.name === name)?.id}`;
    expect(deleted).toHaveLength(2);
    expect(server.list().map((t) => t.name).sort()).toEqual(['aliased', 'kept']);
    // child (which references parent) went first
    expect(h.lines.findIndex((l) => l.startsWith('pgstacks: child: deleted'))).toBeLessThan(h.lines.findIndex((l) => l.startsWith('pgstacks: parent: deleted')));
    expect(id('kept')).toMatch(/w-/);
    expect((await h.store.list('test')).map((r) => r.id).sort()).toEqual(['aliased', 'kept']);
  });

  test('prune forgets a removed RETAIN resource without deleting it', async () => {
    await h.apply(widgetSpec('a', props(), { removalPolicy: 'retain' }));
    await h.prune([]);
    expect(server.list()).toHaveLength(1);
    expect(await h.record('a')).toBeUndefined();
    expect(h.lines.at(-1)).toContain('forgot (no longer in the code)');
  });

  test('a failed delete keeps what the failed one depends on', async () => {
    await h.apply(widgetSpec('parent', props({ name: 'parent' })));
    await h.apply(widgetSpec('child', props({ name: 'child', label: { $ref: { resource: 'parent', attribute: 'id' } } })));
    server.requiredToken = 'now-required';
    await expect(h.prune([])).rejects.toThrow(/prune failed for child: .*HTTP 401.*; parent: kept because child could not be removed/);
    expect((await h.store.list('test')).map((r) => r.id).sort()).toEqual(['child', 'parent']);
  });
});
