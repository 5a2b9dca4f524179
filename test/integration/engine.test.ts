/**
 * The lifecycle engine against the widget server, without Terraform: each run is one whole stack,
 * planned, then executed. Every decision is checked on the remote side (calls made, objects
 * present) and in the state store.
 */
import { EngineHarness, widgetSpec } from '../support/engine';
import { WidgetServer } from '../support/widget-server';
import { formatPlan, hasChanges } from '../../src/runtime/plan';
import { fingerprint, openSecrets, type ResourceRecord } from '../../src/runtime/state';
import { TEST_STATE_KEY } from '../support/env';
import { defineResourceType } from '../../src/runtime/resource-type';
import { widgetType, type ThingProps } from '../support/widget-type';

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
const ref = (resource: string, attribute = 'id') => ({ $ref: { resource, attribute } });
const idOf = (name: string, kind = 'widgets') => server.list(kind).find((t) => t.name === name)?.id;

/** Widgets whose type warms up: each warm-up notes the widget's name and how many calls the server had seen. */
const warmed: string[] = [];
defineResourceType<ThingProps, any>({
  ...widgetType,
  name: 'test:warm-widget',
  warmUp(props, log) {
    warmed.push(`${props.name} after ${server.calls.length} calls`);
    if (props.name === 'broken') throw new Error('the warm-up failed');
    log('warming up');
  },
});

describe('warm-up', () => {
  const spec = (id: string, extra: Record<string, unknown>) => ({ ...widgetSpec(id, props(extra)), type: 'test:warm-widget' });
  beforeEach(() => (warmed.length = 0));

  test("an apply lets each type start its first call's groundwork while planning; a plan, an unchanged resource and unknown props do not", async () => {
    const stack = [spec('a', { name: 'alpha' }), spec('b', { name: 'beta', label: ref('a') }), spec('c', { name: 'broken' })];
    await h.plan(stack); // `pgstacks plan` applies nothing, so it warms nothing
    expect(warmed).toEqual([]);
    await h.reconcile(stack);
    // Before any call; b's label is only known once a is created; a failing warm-up fails nothing.
    expect(warmed).toEqual(['alpha after 0 calls', 'broken after 0 calls']);
    expect(server.list().map((t) => t.name).sort()).toEqual(['alpha', 'beta', 'broken']);
    expect(h.log).toContain('a: warming up');
    warmed.length = 0;
    server.resetCalls();
    await h.reconcile([spec('a', { name: 'alpha', size: 2 }), stack[1], stack[2]]);
    // Only the changed one: after the plan's reads, before the update.
    expect(warmed).toEqual(['alpha after 3 calls']);
    expect(calls().filter((c) => !c.startsWith('GET'))).toEqual([`PATCH /widgets/${idOf('alpha')}`]);
  });
});

describe('apply', () => {
  test('creates the object and records it, with secret outputs kept apart', async () => {
    await h.reconcile([widgetSpec('a', props())]);
    expect(server.list()).toHaveLength(1);
    const record = await h.record('a');
    expect(record).toMatchObject({ status: 'ready', physicalId: server.list()[0].id, outputs: { name: 'alpha', size: 1 } });
    expect(record?.outputs).not.toHaveProperty('apiKey');
    expect(await h.secrets('a')).toEqual({ apiKey: server.list()[0].apiKey });
    expect(h.log).toMatch(/a: created test:widget w-\d+ in \d+ms/);
    expect(h.log).toContain('+ a [test:widget]: create (new)');
    expect(h.log).not.toContain(server.list()[0].apiKey);
  });

  test('an unchanged stack makes no write call: one read per resource', async () => {
    const stack = [widgetSpec('a', props()), widgetSpec('b', props({ name: 'beta' }))];
    await h.reconcile(stack);
    server.resetCalls();
    const plan = await h.reconcile(stack);
    expect(hasChanges(plan)).toBe(false);
    expect(calls().sort()).toEqual([`GET /widgets/${idOf('alpha')}`, `GET /widgets/${idOf('beta')}`].sort());
    expect(h.log).toContain("No changes: all 2 resources of stack 'test' match the code.");
    expect(h.lines.at(-2)).toMatch(/is up to date/);
  });

  test('an object deleted behind our back is created again', async () => {
    await h.reconcile([widgetSpec('a', props())]);
    server.things.get('widgets')!.clear();
    const plan = await h.reconcile([widgetSpec('a', props())]);
    expect(plan.resources[0]).toMatchObject({ action: 'create', gone: true });
    expect(server.list()).toHaveLength(1);
    expect((await h.record('a'))?.physicalId).toBe(server.list()[0].id);
    expect(h.log).toContain('re-created (it was deleted outside pgstacks)');
  });

  test('a mutable change updates in place', async () => {
    await h.reconcile([widgetSpec('a', props())]);
    const id = server.list()[0].id;
    server.resetCalls();
    await h.reconcile([widgetSpec('a', props({ size: 5, color: 'red' }))]);
    expect(calls()).toEqual([`GET /widgets/${id}`, `PATCH /widgets/${id}`]);
    expect(server.list()).toEqual([expect.objectContaining({ id, size: 5, color: 'red' })]);
    expect((await h.record('a'))?.outputs).toMatchObject({ size: 5, color: 'red' });
    expect(h.log).toMatch(/updated test:widget .* in place \(color, size\)/);
  });

  test('a change made outside pgstacks is drift: planned, and put back', async () => {
    await h.reconcile([widgetSpec('a', props())]);
    server.list()[0].size = 9;
    const plan = await h.plan([widgetSpec('a', props())]);
    expect(plan.resources[0]).toMatchObject({ action: 'update', changes: [{ path: 'size', drift: true, after: '1' }] });
    expect(formatPlan(plan).join('\n')).toContain('# changed outside pgstacks');
    await h.reconcile([widgetSpec('a', props())]);
    expect(server.list()[0].size).toBe(1);
  });

  test('an immutable change replaces, deleting first when names are unique', async () => {
    await h.reconcile([widgetSpec('a', props())]);
    const old = server.list()[0].id;
    server.resetCalls();
    await h.reconcile([widgetSpec('a', props({ name: 'beta' }))]);
    expect(calls()).toEqual([`GET /widgets/${old}`, `DELETE /widgets/${old}`, 'POST /widgets']);
    expect(server.list()).toEqual([expect.objectContaining({ name: 'beta' })]);
    expect((await h.record('a'))?.physicalId).toBe(server.list()[0].id);
  });

  test('a create-before-delete type creates the new object before deleting the old', async () => {
    const gadget = (name: string) => widgetSpec('g', props({ name }), { type: 'test:gadget' });
    await h.reconcile([gadget('alpha')]);
    const old = server.list('gadgets')[0].id;
    server.resetCalls();
    await h.reconcile([gadget('beta')]);
    expect(calls()).toEqual([`GET /gadgets/${old}`, 'POST /gadgets', `DELETE /gadgets/${old}`]);
    expect((await h.record('g'))?.pendingDeletes).toEqual([]);
  });

  test('replacing a RETAIN resource is refused with a how-to before anything is written', async () => {
    await h.reconcile([widgetSpec('a', props(), { removalPolicy: 'retain' }), widgetSpec('b', props({ name: 'b' }))]);
    server.resetCalls();
    const changed = [widgetSpec('a', props({ name: 'beta' }), { removalPolicy: 'retain' }), widgetSpec('b', props({ name: 'b', size: 3 }))];
    await expect(h.reconcile(changed)).rejects.toThrow(/nothing was changed.*\n {2}a: changing name \("alpha" -> "beta"\) needs a replacement.*RETAIN.*allowReplacement: true/);
    expect(server.writes()).toBe(0);
    await h.reconcile([widgetSpec('a', props({ name: 'beta' }), { removalPolicy: 'retain', allowReplacement: true }), changed[1]]);
    expect(server.list().map((t) => t.name).sort()).toEqual(['b', 'beta']);
  });

  test('an interrupted create is adopted on retry, never duplicated', async () => {
    const spec = widgetSpec('a', props());
    // The crash: the intent record exists and the object was made, but not recorded.
    await h.store.put({
      stack: 'test', id: 'a', type: 'test:widget', status: 'creating', spec, props: spec.props, outputs: {},
      dependencies: [], createdAt: '', updatedAt: '', handlerVersion: 'test',
    });
    server.things.set('widgets', new Map([['w-99', { id: 'w-99', name: 'alpha', size: 1, apiKey: 'k' }]]));
    server.resetCalls();
    await h.reconcile([spec]);
    expect(server.writes()).toBe(0);
    expect(server.list()).toHaveLength(1);
    expect(await h.record('a')).toMatchObject({ status: 'ready', physicalId: 'w-99' });
    expect(h.log).toContain('adopted test:widget w-99 left by an interrupted apply');
  });

  test('a record found under an alias is moved, not recreated', async () => {
    await h.reconcile([widgetSpec('old/a', props())]);
    server.resetCalls();
    await h.reconcile([widgetSpec('new/a', props(), { aliases: ['old/a'] })]);
    expect(server.writes()).toBe(0);
    expect(await h.record('old/a')).toBeUndefined();
    expect((await h.record('new/a'))?.physicalId).toBe(server.list()[0].id);
    expect(h.log).toContain("moved from 'old/a' (alias)");
  });

  test('a rename without an alias takes the object over by its natural key: no delete, no create', async () => {
    await h.reconcile([widgetSpec('old', props({ label: 'data' }))]);
    const id = server.list()[0].id;
    server.resetCalls();
    const plan = await h.reconcile([widgetSpec('renamed', props({ label: 'data' }))]);
    expect(plan.resources.map((r) => [r.id, r.action])).toEqual([['renamed', 'no-op']]);
    expect(server.writes()).toBe(0);
    expect(server.list()).toEqual([expect.objectContaining({ id, label: 'data' })]);
    expect(await h.record('old')).toBeUndefined();
    expect(await h.record('renamed')).toMatchObject({ physicalId: id, status: 'ready' });
    expect(h.log).toContain(`moved from 'old' (the same test:widget ${server.url} alpha)`);
  });

  test('references resolve in the same run, in dependency order, and are recorded as dependencies', async () => {
    const child = widgetSpec('b', props({ name: 'beta', label: { $concat: ['child-of-', ref('a')] } }));
    await h.reconcile([child, widgetSpec('a', props())]);
    expect(server.list().find((t) => t.name === 'beta')?.label).toBe(`child-of-${idOf('alpha')}`);
    expect((await h.record('b'))?.dependencies).toEqual(['a']);
  });

  test('a replaced dependency carries its new output to its dependents in the same run', async () => {
    const stack = (name: string) => [widgetSpec('a', props({ name })), widgetSpec('b', props({ name: 'beta', label: ref('a') }))];
    await h.reconcile(stack('alpha'));
    const plan = await h.plan(stack('alpha-2'));
    expect(plan.resources.find((r) => r.id === 'b')).toMatchObject({ action: 'update', changes: [{ path: 'label', after: '(known after apply)' }] });
    await h.reconcile(stack('alpha-2'));
    expect(server.list().find((t) => t.name === 'beta')?.label).toBe(idOf('alpha-2'));
  });

  test('a reference to a secret output is stored as a reference, never as the value', async () => {
    h.env = { PGSTACKS_STATE_KEY: 'correct horse battery staple' };
    await h.reconcile([widgetSpec('a', props()), widgetSpec('b', props({ name: 'beta', label: ref('a', 'apiKey') }))]);
    const apiKey = server.list().find((t) => t.name === 'alpha')!.apiKey;
    expect(server.list().find((t) => t.name === 'beta')?.label).toBe(apiKey);
    const stored = JSON.stringify(await h.record('b'));
    expect(stored).not.toContain(apiKey);
    expect((await h.record('b'))?.props.label).toEqual(ref('a', 'apiKey'));
    // The widget API echoes the label back: that output is kept with the secret outputs.
    expect((await h.record('b'))?.outputs).not.toHaveProperty('label');
    expect(h.log).not.toContain(apiKey);
  });

  test('a missing secret variable names the variable and the resource, before any call', async () => {
    const spec = widgetSpec('a', props({ token: { $secret: { fromEnv: 'WIDGET_TOKEN' } } }));
    await expect(h.reconcile([spec])).rejects.toThrow(/a: needs the environment variable WIDGET_TOKEN \(Secret\.fromEnv\), but it is not set/);
    expect(server.calls).toHaveLength(0);
  });

  test('secrets reach the handler, never the record or the log, and a changed secret counts as a change', async () => {
    server.requiredToken = 's3cret-token-1';
    h.env = { WIDGET_TOKEN: 's3cret-token-1' };
    const spec = widgetSpec('a', props({ token: { $secret: { fromEnv: 'WIDGET_TOKEN' } } }));
    await h.reconcile([spec]);
    server.resetCalls();
    server.requiredToken = 's3cret-token-2';
    h.env = { WIDGET_TOKEN: 's3cret-token-2' };
    const plan = await h.reconcile([spec]);
    expect(plan.resources[0].changes).toEqual([expect.objectContaining({ path: 'token', before: '(sensitive value)', after: '(sensitive value)' })]);
    expect(server.writes('PATCH')).toBe(1);
    expect(JSON.stringify(await h.record('a'))).not.toContain('s3cret-token');
    expect(h.log).not.toContain('s3cret-token');
  });

  test('fingerprints of secret inputs are keyed with the state key; unkeyed ones of earlier versions still compare', async () => {
    h.env = { WIDGET_TOKEN: 's3cret-token-1' };
    const spec = widgetSpec('a', props({ token: { $secret: { fromEnv: 'WIDGET_TOKEN' } } }));
    await h.reconcile([spec]);
    const record = (await h.record('a')) as ResourceRecord;
    const known = record.secretFingerprints as NonNullable<ResourceRecord['secretFingerprints']>;
    expect(known.keyed).toBe(true);
    // Not the unkeyed (scrypt) hash of the value: without the state key it tells nothing.
    expect(known.values.WIDGET_TOKEN).not.toBe(fingerprint('s3cret-token-1', known.salt, undefined));
    expect(known.values.WIDGET_TOKEN).toBe(fingerprint('s3cret-token-1', known.salt, TEST_STATE_KEY));
    // A record of an earlier version, fingerprinted by scrypt: the same value is no change, another is.
    await h.store.put({ ...record, secretFingerprints: { salt: known.salt, values: { WIDGET_TOKEN: fingerprint('s3cret-token-1', known.salt, undefined) } } });
    server.resetCalls();
    expect((await h.reconcile([spec])).resources[0].action).toBe('no-op');
    h.env = { WIDGET_TOKEN: 's3cret-token-2' };
    expect((await h.reconcile([spec])).resources[0].changes).toEqual([expect.objectContaining({ path: 'token' })]);
    expect(server.writes('PATCH')).toBe(1);
    expect((await h.record('a'))?.secretFingerprints?.keyed).toBe(true);
  });

  test('an API error that echoes a secret is reported masked', async () => {
    server.requiredToken = 'right-token';
    h.env = { WIDGET_TOKEN: 'wrong-token-value' };
    const spec = widgetSpec('a', props({ token: { $secret: { fromEnv: 'WIDGET_TOKEN' } } }));
    const error = (await h.reconcile([spec]).catch((e: Error) => e)) as Error;
    expect(error.message).toContain('create failed: POST /widgets: HTTP 401 {"error":"bad token: Bearer ***"}');
    expect(error.message).not.toContain('wrong-token-value');
    expect(h.log).not.toContain('wrong-token-value');
  });

  test('secret outputs are encrypted when PGSTACKS_STATE_KEY is set', async () => {
    h.env = { PGSTACKS_STATE_KEY: 'correct horse battery staple' };
    await h.reconcile([widgetSpec('a', props())]);
    const record = await h.record('a');
    expect(record?.secretOutputs).toMatchObject({ encrypted: true, alg: 'aes-256-gcm', names: ['apiKey'] });
    expect(JSON.stringify(record)).not.toContain(server.list()[0].apiKey);
    expect(openSecrets(record!.secretOutputs!, 'correct horse battery staple')).toEqual({ apiKey: server.list()[0].apiKey });
    expect(() => openSecrets(record!.secretOutputs!, 'wrong key')).toThrow(/not the key they were written with/);
  });

  test('invalid props at apply name the field', async () => {
    await expect(h.reconcile([widgetSpec('a', props({ size: 500 }))])).rejects.toThrow(/a: invalid props: size: Too big/);
  });

  test('one failure does not stop independent resources; its dependents are skipped', async () => {
    const stack = [
      widgetSpec('bad', props({ name: 'bad', endpoint: 'http://127.0.0.1:9' })),
      widgetSpec('child', props({ name: 'child', label: ref('bad') })),
      widgetSpec('good', props({ name: 'good' })),
    ];
    await expect(h.reconcile(stack)).rejects.toThrow(/2 of 3 resources were not applied:\n {2}bad: .*create failed.*\n {2}child: not applied because bad failed/);
    expect(server.list().map((t) => t.name)).toEqual(['good']);
  });

  test('many resources run in parallel, bounded', async () => {
    h.parallelism = 4;
    const stack = Array.from({ length: 24 }, (_, i) => widgetSpec(`w${i}`, props({ name: `w${i}` })));
    await h.reconcile(stack);
    expect(server.list()).toHaveLength(24);
    expect((await h.store.list('test')).every((r) => r.status === 'ready')).toBe(true);
  });

  test('a stop reason halts the run before the next resource; begin runs, end does not', async () => {
    const events: string[] = [];
    let started = 0;
    h.parallelism = 1;
    const stack = Array.from({ length: 5 }, (_, i) => widgetSpec(`w${i}`, props({ name: `w${i}` })));
    await expect(
      h.reconcile(stack, {
        begin: async () => void events.push('begin'),
        end: async () => void events.push('end'),
        stopReason: () => (started++ >= 2 ? 'terraform is gone' : undefined),
      }),
    ).rejects.toThrow(/terraform is gone/);
    expect(events).toEqual(['begin']);
    expect(server.list().length).toBeLessThan(5);
  });
});

describe('removal and destroy', () => {
  test('destroy deletes every DESTROY object, forgets RETAIN ones, and is idempotent', async () => {
    await h.reconcile([widgetSpec('a', props()), widgetSpec('r', props({ name: 'kept' }), { removalPolicy: 'retain' })]);
    server.resetCalls();
    await h.destroy();
    expect(server.list().map((t) => t.name)).toEqual(['kept']);
    expect(await h.store.list('test')).toEqual([]);
    expect(h.log).toMatch(/r: forgot: removal policy RETAIN, so test:widget w-\d+ was kept/);
    await h.destroy();
    expect(h.lines.at(-1)).toContain('nothing in the');
  });

  test('destroy of an object already gone remotely still succeeds', async () => {
    await h.reconcile([widgetSpec('a', props())]);
    server.things.get('widgets')!.clear();
    await h.destroy();
    expect(await h.record('a')).toBeUndefined();
  });

  test('destroy finds what an interrupted create made and deletes it', async () => {
    const spec = widgetSpec('a', props());
    await h.store.put({
      stack: 'test', id: 'a', type: 'test:widget', status: 'creating', spec, props: spec.props, outputs: {},
      dependencies: [], createdAt: '', updatedAt: '', handlerVersion: 'test',
    });
    server.things.set('widgets', new Map([['w-99', { id: 'w-99', name: 'alpha', size: 1, apiKey: 'k' }]]));
    await h.destroy();
    expect(server.list()).toEqual([]);
  });

  test('undeclared resources are deleted, dependents first; declared ones and aliases stay', async () => {
    await h.reconcile([
      widgetSpec('parent', props({ name: 'parent' })),
      widgetSpec('child', props({ name: 'child', label: ref('parent') })),
      widgetSpec('kept', props({ name: 'kept' })),
      widgetSpec('aliased', props({ name: 'aliased' })),
    ]);
    server.resetCalls();
    const plan = await h.reconcile([widgetSpec('kept', props({ name: 'kept' })), widgetSpec('moved', props({ name: 'aliased' }), { aliases: ['aliased'] })]);
    expect(plan.resources.filter((r) => r.action === 'delete').map((r) => r.id).sort()).toEqual(['child', 'parent']);
    expect(server.writes('DELETE')).toBe(2);
    expect(server.list().map((t) => t.name).sort()).toEqual(['aliased', 'kept']);
    expect(h.lines.findIndex((l) => l.startsWith('pgstacks: child: deleted'))).toBeLessThan(h.lines.findIndex((l) => l.startsWith('pgstacks: parent: deleted')));
    expect((await h.store.list('test')).map((r) => r.id).sort()).toEqual(['kept', 'moved']);
  });

  test('a removed RETAIN resource is forgotten, not deleted', async () => {
    await h.reconcile([widgetSpec('a', props(), { removalPolicy: 'retain' })]);
    await h.reconcile([]);
    expect(server.list()).toHaveLength(1);
    expect(await h.record('a')).toBeUndefined();
    expect(h.log).toContain('forgot (no longer in the code)');
  });

  test('a failed delete keeps what the failed one depends on', async () => {
    await h.reconcile([widgetSpec('parent', props({ name: 'parent' })), widgetSpec('child', props({ name: 'child', label: ref('parent') }))]);
    server.requiredToken = 'now-required';
    await expect(h.reconcile([])).rejects.toThrow(/child: .*HTTP 401.*\n {2}parent: not applied because child failed/);
    expect((await h.store.list('test')).map((r) => r.id).sort()).toEqual(['child', 'parent']);
  });

  test('an object another record owns now is never deleted with the record that had it', async () => {
    await h.reconcile([widgetSpec('a', props())]);
    const record = (await h.record('a'))!;
    // A stale copy (a refactor gone wrong by hand): both records point at one object.
    await h.store.put({ ...record, id: 'stale' });
    await h.reconcile([widgetSpec('a', props())]);
    expect(server.list()).toHaveLength(1);
    expect(await h.record('stale')).toBeUndefined();
    expect(h.log).toContain("stale: kept test:widget");
  });
});
