/**
 * State that survives pipelines, at the engine: the state key checked before any write, secret
 * outputs never stored in plain text unless allowed, corrupt records named with their repair,
 * lost state adopted or stopped with the import command, and temp files of killed writes cleaned.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineHarness, widgetSpec } from '../support/engine';
import { fingerprint, kdfOf, openSecrets, type ResourceRecord, type SealedSecrets } from '../../src/runtime/state';
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

/** How many times `fn` calls node:crypto's `names` (its exports cannot be spied on with jest.spyOn: they are patched on the module itself). */
async function countingCalls(names: readonly string[], fn: () => Promise<unknown>): Promise<number> {
  const exports = require('node:crypto') as Record<string, (...args: unknown[]) => unknown>;
  const originals = Object.fromEntries(names.map((name) => [name, exports[name]!]));
  let calls = 0;
  for (const name of names) {
    exports[name] = (...args: unknown[]) => {
      calls++;
      return originals[name]!(...args);
    };
  }
  try {
    await fn();
  } finally {
    Object.assign(exports, originals);
  }
  return calls;
}

const countingScrypt = (fn: () => Promise<unknown>) => countingCalls(['scrypt', 'scryptSync'], fn);

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

  test('a 256-bit key (openssl rand -base64 32, or -hex 32) is used as it is; anything else is a passphrase, stretched by scrypt', () => {
    const bytes = crypto.randomBytes(32);
    expect(kdfOf(bytes.toString('base64'))).toBe('hkdf-sha256');
    expect(kdfOf(bytes.toString('hex'))).toBe('hkdf-sha256');
    expect(kdfOf(bytes.toString('hex').toUpperCase())).toBe('hkdf-sha256');
    for (const passphrase of [
      'correct horse battery staple',
      `${bytes.toString('base64')}\n`, // as read from a file, newline kept: another value, so another derivation
      crypto.randomBytes(31).toString('base64'),
      crypto.randomBytes(33).toString('base64'),
      bytes.toString('base64url'),
      `${'A'.repeat(42)}B=`, // not canonical: its padding bits are set
    ]) {
      expect(kdfOf(passphrase)).toBe('scrypt');
    }
  });

  test('with a 256-bit key, a run seals, checks and fingerprints without scrypt', async () => {
    const key = crypto.randomBytes(32).toString('base64');
    h.env = { PGSTACKS_STATE_KEY: key, WIDGET_TOKEN: 't0ken-value' };
    const scrypts = await countingScrypt(async () => {
      await h.reconcile([widgetSpec('a', props('alpha', { token: { $secret: { fromEnv: 'WIDGET_TOKEN' } } }))]);
      await h.reconcile([widgetSpec('a', props('alpha', { token: { $secret: { fromEnv: 'WIDGET_TOKEN' } } }))]);
    });
    expect(scrypts).toBe(0);
    const record = (await h.record('a')) as ResourceRecord;
    expect(record.secretOutputs).toMatchObject({ encrypted: true, kdf: 'hkdf-sha256' });
    expect(record.secretFingerprints).toMatchObject({ keyed: true, kdf: 'hkdf-sha256' });
    expect((await h.store.getMeta('test'))?.keyCheck?.kdf).toBe('hkdf-sha256');
    expect(await h.secrets('a')).toEqual({ apiKey: server.list()[0].apiKey });
    for (const other of [crypto.randomBytes(32).toString('base64'), 'a passphrase']) {
      expect(() => openSecrets(record.secretOutputs as SealedSecrets, other)).toThrow(/not the key they were written with/);
    }
    h.env = { PGSTACKS_STATE_KEY: crypto.randomBytes(32).toString('hex'), WIDGET_TOKEN: 't0ken-value' };
    await expect(h.reconcile([widgetSpec('a', props('alpha'))])).rejects.toThrow(/PGSTACKS_STATE_KEY is not the key/);
  });

  test('with a 256-bit key, a run derives its sealing key once, however many secret inputs it fingerprints', async () => {
    h.env = { PGSTACKS_STATE_KEY: crypto.randomBytes(32).toString('base64'), WIDGET_TOKEN: 't0ken-value' };
    const specs = Array.from({ length: 10 }, (_, i) => widgetSpec(`w${i}`, props(`w${i}`, { token: { $secret: { fromEnv: 'WIDGET_TOKEN' } } })));
    expect(await countingCalls(['hkdfSync'], () => h.reconcile(specs))).toBe(1);
    for (const spec of specs) expect(await h.record(spec.id)).toMatchObject({ status: 'ready', secretFingerprints: { keyed: true, kdf: 'hkdf-sha256' } });
  });

  test('a stack an earlier version sealed with the scrypt of a 256-bit key opens, changes nothing, and is checked without scrypt from then on', async () => {
    const key = crypto.randomBytes(32).toString('base64');
    h.env = { PGSTACKS_STATE_KEY: key, WIDGET_TOKEN: 't0ken-value' };
    const spec = widgetSpec('a', props('alpha', { token: { $secret: { fromEnv: 'WIDGET_TOKEN' } } }));
    await h.reconcile([spec]);
    // What the earlier version wrote: the sealing key was scrypt(key, salt), and no kdf on fingerprints.
    const record = (await h.record('a')) as ResourceRecord;
    const apiKey = server.list()[0].apiKey;
    const salt = crypto.randomBytes(16);
    const sealingKey = crypto.scryptSync(key, salt, 32);
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', sealingKey, iv);
    const data = Buffer.concat([cipher.update(JSON.stringify({ apiKey })), cipher.final()]);
    const b64 = (b: Buffer) => b.toString('base64');
    const keyedFingerprint = crypto.createHmac('sha256', sealingKey).update('pgstacks secret input v1\0').update('t0ken-value').digest('base64');
    await h.store.put({
      ...record,
      secretOutputs: { encrypted: true, names: ['apiKey'], alg: 'aes-256-gcm', kdf: 'scrypt', salt: b64(salt), iv: b64(iv), tag: b64(cipher.getAuthTag()), data: b64(data) },
      secretFingerprints: { salt: b64(salt), keyed: true, values: { WIDGET_TOKEN: keyedFingerprint } },
    });
    const mac = crypto.createHmac('sha256', sealingKey).update('pgstacks state key check v1').digest('base64');
    await h.store.putMeta('test', { ...(await h.store.getMeta('test')), keyCheck: { kdf: 'scrypt', salt: b64(salt), mac } });
    expect(await h.secrets('a')).toEqual({ apiKey });
    expect(fingerprint('t0ken-value', b64(salt), key, 'scrypt')).toBe(keyedFingerprint);

    server.resetCalls();
    const plan = await h.reconcile([spec]);
    expect(plan.resources[0].action).toBe('no-op');
    expect(server.writes()).toBe(0);
    expect((await h.store.getMeta('test'))?.keyCheck?.kdf).toBe('hkdf-sha256');
    expect((await h.record('a'))?.secretOutputs).toMatchObject({ kdf: 'hkdf-sha256' });
    // The process keeps what it derived: forget it, so a run that needed scrypt would call it.
    (globalThis as { [key: symbol]: { derived: Map<string, Buffer> } })[Symbol.for('pgstacks.derivations')].derived.clear();
    expect(await countingScrypt(async () => expect((await h.reconcile([spec])).resources[0].action).toBe('no-op'))).toBe(0);
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
