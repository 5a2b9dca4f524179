/**
 * RAW storage independent of the gateway tables: rows written through a gateway raw table live in
 * RAW, outlive the table (and its user), come back in a table recreated over the same RAW table,
 * and are shared by every gateway table that maps to it.
 */
import * as fs from 'node:fs';
import type { Client } from 'pg';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { asSuperuser, Cdf, connect, sqlState, tempDataDir, tokenFor } from './support';

let sandbox: Sandbox;
let dataDir: string;
let cdf: Cdf;

beforeAll(async () => {
  dataDir = tempDataDir('cognite-raw');
  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0 });
  cdf = new Cdf(sandbox, await tokenFor(sandbox));
});

afterAll(async () => {
  await sandbox?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

type User = Awaited<ReturnType<Cdf['createUser']>>;

const meters = (tablename: string, columns: Record<string, string> = { id: 'TEXT', reading: 'DOUBLE PRECISION' }, table = 'meters') => ({
  type: 'raw_rows',
  tablename,
  options: { database: 'site', table, primaryKey: 'id' },
  columns: Object.fromEntries(Object.entries(columns).map(([name, type]) => [name, { type }])),
});

async function createTable(user: User, table: object): Promise<void> {
  const res = await cdf.post(`/postgresgateway/tables/${user.username}`, { items: [table] });
  if (res.status !== 200) throw new Error(`create table: ${res.status} ${JSON.stringify(res.body)}`);
}

async function dropTable(user: User, tablename: string): Promise<void> {
  const res = await cdf.post(`/postgresgateway/tables/${user.username}/delete`, { items: [{ tablename }] });
  if (res.status !== 200) throw new Error(`drop table: ${res.status} ${JSON.stringify(res.body)}`);
}

async function rawRows(table = 'meters'): Promise<Array<{ key: string; columns: Record<string, unknown> }>> {
  const res = await cdf.get(`/raw/dbs/site/tables/${table}/rows?limit=1000`);
  if (res.status !== 200) throw new Error(`rows: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.items.map(({ key, columns }: { key: string; columns: Record<string, unknown> }) => ({ key, columns }));
}

async function as<T>(user: User, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = await connect(sandbox, user.username, user.password);
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

test('a gateway raw table is a table to its user: listed, INSERT 0 1, keyed writes', async () => {
  const user = await cdf.createUser();
  await createTable(user, meters('meters', undefined, 'basics'));
  await as(user, async (db) => {
    expect((await db.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).rows).toEqual([{ tablename: 'meters' }]);
    const inserted = await db.query("INSERT INTO meters VALUES ('m-1', 1.5)");
    expect([inserted.command, inserted.rowCount]).toEqual(['INSERT', 1]);
    await db.query("INSERT INTO meters VALUES ('m-1', 2.5), ('m-2', 7)");
    expect((await db.query('SELECT * FROM meters ORDER BY id')).rows).toEqual([{ id: 'm-1', reading: 2.5 }, { id: 'm-2', reading: 7 }]);
    expect(await sqlState(db.query('INSERT INTO meters (reading) VALUES (1)'))).toBe('23502');
  });
  expect(await rawRows('basics')).toEqual([{ key: 'm-1', columns: { reading: 2.5 } }, { key: 'm-2', columns: { reading: 7 } }]);
});

test('rows outlive a dropped gateway table and come back when it is recreated', async () => {
  const user = await cdf.createUser();
  await createTable(user, meters('meters'));
  await as(user, (db) => db.query("INSERT INTO meters VALUES ('m-1', 1), ('m-2', 2)"));

  await dropTable(user, 'meters');
  expect(await rawRows()).toEqual([{ key: 'm-1', columns: { reading: 1 } }, { key: 'm-2', columns: { reading: 2 } }]);
  expect((await cdf.get('/raw/dbs/site/tables')).body.items).toContainEqual({ name: 'meters' });
  expect((await cdf.get('/raw/dbs/site/tables/meters/rows/m-2')).body).toMatchObject({ key: 'm-2', columns: { reading: 2 } });

  // Recreated with another definition over the same RAW table: the rows are there again.
  await createTable(user, meters('meters_v2', { id: 'TEXT', reading: 'DOUBLE PRECISION', note: 'TEXT' }));
  await as(user, async (db) => {
    expect((await db.query('SELECT * FROM meters_v2 ORDER BY id')).rows).toEqual([
      { id: 'm-1', reading: 1, note: null },
      { id: 'm-2', reading: 2, note: null },
    ]);
    await db.query("INSERT INTO meters_v2 VALUES ('m-3', 3, 'new')");
  });
  expect(await rawRows()).toHaveLength(3);
});

test('gateway tables over the same RAW table share its rows, across users; deleting a user keeps them', async () => {
  const [alice, bob] = [await cdf.createUser(), await cdf.createUser()];
  const shared = { ...meters('shared', { id: 'TEXT', reading: 'DOUBLE PRECISION' }, 'shared'), options: { database: 'site', table: 'shared', primaryKey: 'id' } };
  await createTable(alice, shared);
  await createTable(bob, { ...shared, columns: { id: { type: 'TEXT' }, unit: { type: 'TEXT' } } });
  await as(alice, (db) => db.query("INSERT INTO shared VALUES ('s-1', 4.2)"));
  await as(bob, async (db) => {
    expect((await db.query('SELECT * FROM shared')).rows).toEqual([{ id: 's-1', unit: null }]);
    // An UPDATE through bob's table keeps the column only alice's table declares.
    await db.query("UPDATE shared SET unit = 'bar' WHERE id = 's-1'");
  });
  expect(await rawRows('shared')).toEqual([{ key: 's-1', columns: { reading: 4.2, unit: 'bar' } }]);

  expect((await cdf.post('/postgresgateway/delete', { items: [{ username: alice.username }] })).status).toBe(200);
  expect(await rawRows('shared')).toEqual([{ key: 's-1', columns: { reading: 4.2, unit: 'bar' } }]);
  await as(bob, async (db) => {
    await db.query("DELETE FROM shared WHERE id = 's-1'");
    expect((await db.query('SELECT count(*)::int AS n FROM shared')).rows).toEqual([{ n: 0 }]);
  });
  expect(await rawRows('shared')).toEqual([]);
});

test('writes are transactional, and UPDATE works whether or not Postgres can push it down', async () => {
  const user = await cdf.createUser();
  await createTable(user, meters('tx', undefined, 'tx'));
  await as(user, async (db) => {
    await db.query('BEGIN');
    await db.query("INSERT INTO tx VALUES ('gone', 1)");
    await db.query('ROLLBACK');
    await db.query("INSERT INTO tx VALUES ('a', 1), ('b', 2)");
    // random() cannot run remotely, so this UPDATE goes row by row.
    await db.query("UPDATE tx SET reading = reading + 10 + floor(random()) WHERE id = 'a'");
    await db.query("UPDATE tx SET id = 'c' WHERE id = 'b'");
  });
  expect(await rawRows('tx')).toEqual([{ key: 'a', columns: { reading: 11 } }, { key: 'c', columns: { reading: 2 } }]);
});

test('every column type round-trips through RAW; a table without primaryKey keys rows by content', async () => {
  const user = await cdf.createUser();
  const types = { t: 'TEXT', b: 'BOOL', n: 'BIGINT', ts: 'TIMESTAMPTZ', j: 'JSON', arr: 'TEXT[]', nums: 'DOUBLE PRECISION[]', js: 'JSON[]', raw: 'BYTEA' };
  await createTable(user, { type: 'raw_rows', tablename: 'kinds', options: { database: 'site', table: 'kinds' }, columns: Object.fromEntries(Object.entries(types).map(([c, type]) => [c, { type }])) });
  const row = { t: 'x', b: true, n: '9007199254740993', ts: new Date('2024-01-02T03:04:05Z'), j: { a: [1, 2] }, arr: ['a', 'b'], nums: [1.5, 2], js: [{ k: 1 }, [2]], raw: Buffer.from([1, 2, 255]) };
  await as(user, async (db) => {
    const insert = 'INSERT INTO kinds VALUES ($1, $2, $3, $4, $5, $6, $7, $8::json[], $9)';
    const values = [row.t, row.b, row.n, row.ts, JSON.stringify(row.j), row.arr, row.nums, row.js.map((v) => JSON.stringify(v)), row.raw];
    await db.query(insert, values);
    await db.query(insert, values);
    expect((await db.query('SELECT * FROM kinds')).rows).toEqual([row]);
  });
  const [stored] = await rawRows('kinds');
  expect(stored!.key).toMatch(/^[0-9a-f]{32}$/);
  expect(stored!.columns).toEqual({ t: 'x', b: true, n: 9007199254740993, ts: '2024-01-02T03:04:05+00:00', j: { a: [1, 2] }, arr: ['a', 'b'], nums: [1.5, 2], js: [{ k: 1 }, [2]], raw: '\\x0102ff' });
});

test('the gateway user cannot reach the RAW store other than through its tables', async () => {
  const user = await cdf.createUser();
  await createTable(user, meters('mine', undefined, 'mine'));
  await as(user, async (db) => {
    expect((await db.query('SELECT umoptions FROM pg_user_mappings')).rows).toEqual([{ umoptions: null }]);
    const partition = await db.query("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pgstacks' AND c.relkind = 'f'");
    expect(partition.rows).toHaveLength(1);
    expect(await sqlState(db.query(`SELECT * FROM pgstacks."${partition.rows[0].relname}"`))).toBe('42501');
    expect(await sqlState(db.query('CREATE FOREIGN TABLE public.peek (key text) SERVER pgstacks_raw'))).toBe('42501');
    expect(await sqlState(db.query('DROP TABLE mine'))).toBe('42501');
  });
  // The bridge login may use the gateway tables' views only, not the rows of every RAW table.
  const bridge = await asSuperuser(sandbox, 'pgstacks_sandbox', (c) =>
    c.query("SELECT has_table_privilege('pgstacks_raw_bridge', 'cognite_raw.rows', 'SELECT') AS rows, has_schema_privilege('pgstacks_raw_bridge', 'cognite', 'USAGE') AS cognite"),
  );
  expect(bridge.rows).toEqual([{ rows: false, cognite: false }]);
});

test('RAW rows page by key with a cursor, and columns= picks columns', async () => {
  const user = await cdf.createUser();
  await createTable(user, meters('paged', undefined, 'paged'));
  await as(user, (db) => db.query("INSERT INTO paged SELECT 'k' || lpad(i::text, 2, '0'), i FROM generate_series(1, 5) i"));
  const first = await cdf.get('/raw/dbs/site/tables/paged/rows?limit=2&columns=');
  expect(first.body.items.map((r: { key: string }) => r.key)).toEqual(['k01', 'k02']);
  expect(first.body.items[0].columns).toEqual({});
  const rest = await cdf.get(`/raw/dbs/site/tables/paged/rows?limit=10&cursor=${encodeURIComponent(first.body.nextCursor)}`);
  expect(rest.body.items.map((r: { key: string }) => r.key)).toEqual(['k03', 'k04', 'k05']);
  expect(rest.body).not.toHaveProperty('nextCursor');
});
