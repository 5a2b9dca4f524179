import type { Client } from 'pg';
import {
  SplitgraphError, discardPendingChanges, getChangedTables, getPendingChanges, getTrackedTables, hasPendingChanges,
  trackTables, untrackTables,
} from '../../src/splitgraph';
import { startTestEngine, type TestEngine } from './support';

let engine: TestEngine;
let db: Client;
const schema = 'tracked';
const ref = (table: string) => ({ schema, table });

beforeAll(async () => {
  engine = await startTestEngine();
  db = engine.client;
  await db.query(`CREATE SCHEMA ${schema}`);
});
afterAll(async () => engine?.server.stop());

async function freshTable(name: string, ddl: string): Promise<void> {
  await db.query(`DROP TABLE IF EXISTS ${schema}.${name}`);
  await db.query(`CREATE TABLE ${schema}.${name} (${ddl})`);
  await trackTables(db, [ref(name)]);
}

describe('the capture triggers', () => {
  test('log inserts, updates and deletes of a table with a primary key, conflated by key', async () => {
    await freshTable('keyed', 'id int PRIMARY KEY, name text, doc jsonb, tags text[], raw json');
    await db.query(`INSERT INTO ${schema}.keyed VALUES (1, 'one', '{"a": [1, 2]}', '{x,y}', '{"k":  1, "k": 2}'), (2, 'two', NULL, NULL, NULL)`);
    await discardPendingChanges(db, schema);

    await db.query(`INSERT INTO ${schema}.keyed VALUES (3, 'three', '[1, "two", null]', '{}', '[]')`);
    await db.query(`UPDATE ${schema}.keyed SET doc = '{"a": [3]}', tags = array_append(tags, NULL) WHERE id = 1`);
    await db.query(`DELETE FROM ${schema}.keyed WHERE id = 2`);

    expect(await getPendingChanges(db, ref('keyed'), { aggregate: true })).toEqual({ added: 1, removed: 1, updated: 1, truncated: false });
    expect(await getPendingChanges(db, ref('keyed'))).toEqual([
      {
        kind: 'update',
        key: { id: 1 },
        oldRow: { id: 1, name: 'one', doc: { a: [1, 2] }, tags: ['x', 'y'], raw: { k: 2 } },
        newRow: { id: 1, name: 'one', doc: { a: [3] }, tags: ['x', 'y', null], raw: { k: 2 } },
      },
      { kind: 'delete', key: { id: 2 }, oldRow: { id: 2, name: 'two', doc: null, tags: null, raw: null }, newRow: null },
      { kind: 'insert', key: { id: 3 }, oldRow: null, newRow: { id: 3, name: 'three', doc: [1, 'two', null], tags: [], raw: [] } },
    ]);
  });

  test('keep json text exactly as written (whitespace and duplicate keys)', async () => {
    await freshTable('raw_json', 'id int PRIMARY KEY, raw json');
    await db.query(`INSERT INTO ${schema}.raw_json VALUES (1, '{"k":  1, "k": 2}')`);
    const { rows } = await db.query(`SELECT unnest(new_rows) AS row FROM splitgraph_audit.pending_changes WHERE relation = '${schema}.raw_json'::regclass`);
    expect(rows.map((r) => r.row)).toEqual(['(1,"{""k"":  1, ""k"": 2}")']);
  });

  test('net out changes that cancel: insert then delete, and updates that restore the row', async () => {
    await freshTable('netted', 'id int PRIMARY KEY, v int');
    await db.query(`INSERT INTO ${schema}.netted VALUES (1, 10)`);
    await discardPendingChanges(db, schema, 'netted');
    await db.query(`INSERT INTO ${schema}.netted VALUES (2, 20)`);
    await db.query(`DELETE FROM ${schema}.netted WHERE id = 2`);
    await db.query(`UPDATE ${schema}.netted SET v = 11`);
    await db.query(`UPDATE ${schema}.netted SET v = 10`);
    await db.query(`UPDATE ${schema}.netted SET v = v`);
    expect(await getPendingChanges(db, ref('netted'), { aggregate: true })).toEqual({ added: 1, removed: 1, updated: 3, truncated: false });
    expect(await getPendingChanges(db, ref('netted'))).toEqual([]);
  });

  test('follow key changes within one statement (a key rotation)', async () => {
    await freshTable('rotated', 'id int PRIMARY KEY DEFERRABLE, v text');
    await db.query(`INSERT INTO ${schema}.rotated VALUES (1, 'a'), (2, 'b')`);
    await discardPendingChanges(db, schema, 'rotated');
    await db.query(`UPDATE ${schema}.rotated SET id = 3 - id`);
    const changes = await getPendingChanges(db, ref('rotated'));
    expect(changes.map((c) => [c.kind, c.key, c.oldRow, c.newRow])).toEqual([
      ['update', { id: 1 }, { id: 1, v: 'a' }, { id: 1, v: 'b' }],
      ['update', { id: 2 }, { id: 2, v: 'b' }, { id: 2, v: 'a' }],
    ]);
  });

  test('log whole rows of a table without a primary key, counting copies and NULLs', async () => {
    await freshTable('loose', 'a int, b text, doc json');
    await db.query(`INSERT INTO ${schema}.loose VALUES (1, NULL, '{"x": 1}'), (1, NULL, '{"x": 1}'), (2, '', NULL)`);
    await discardPendingChanges(db, schema, 'loose');
    await db.query(`DELETE FROM ${schema}.loose WHERE ctid = (SELECT min(ctid) FROM ${schema}.loose WHERE a = 1)`);
    await db.query(`UPDATE ${schema}.loose SET b = NULL WHERE a = 2`);
    await db.query(`INSERT INTO ${schema}.loose VALUES (NULL, NULL, NULL)`);
    expect(await getPendingChanges(db, ref('loose'), { aggregate: true })).toEqual({ added: 1, removed: 1, updated: 1, truncated: false });
    const changes = await getPendingChanges(db, ref('loose'));
    expect(changes.map((c) => [c.kind, c.key])).toEqual([
      ['insert', { a: null, b: null, doc: null }],
      ['delete', { a: 1, b: null, doc: { x: 1 } }],
      ['delete', { a: 2, b: '', doc: null }],
      ['insert', { a: 2, b: null, doc: null }],
    ]);
  });

  test('log rows the same whatever the writer\'s settings, and leave those settings as they were', async () => {
    await freshTable('settings', 'id int PRIMARY KEY, d date, tz timestamptz, f float8, b bytea, iv interval, m money');
    const writer = await engine.server.connect();
    const odd = `SET DateStyle = 'SQL, DMY'; SET TimeZone = 'America/New_York'; SET extra_float_digits = -3;
                 SET bytea_output = 'escape'; SET IntervalStyle = 'sql_standard'`;
    await writer.query(odd);
    const show = `SELECT current_setting('DateStyle') AS d, current_setting('TimeZone') AS z, current_setting('extra_float_digits') AS f,
                         current_setting('bytea_output') AS b, current_setting('IntervalStyle') AS i`;
    const before = (await writer.query(show)).rows[0];
    await writer.query(`BEGIN`);
    await writer.query(`INSERT INTO ${schema}.settings VALUES (1, '2024-03-01', '2024-03-01 12:00:00+00', 0.1, '\\x41', '1 day 2 hours', 1.5)`);
    expect((await writer.query(show)).rows[0]).toEqual(before);
    await writer.query(`COMMIT`);
    await writer.query(`UPDATE ${schema}.settings SET f = f * 3`);
    expect((await writer.query(show)).rows[0]).toEqual(before);
    const { rows } = await db.query(`SELECT unnest(coalesce(new_rows, old_rows)) AS row FROM splitgraph_audit.pending_changes WHERE relation = '${schema}.settings'::regclass ORDER BY statement_id, new_rows IS NOT NULL`);
    expect(rows.map((r) => r.row)).toEqual([
      '(1,2024-03-01,"2024-03-01 12:00:00+00",0.1,"\\\\x41","1 day 02:00:00",$1.50)',
      '(1,2024-03-01,"2024-03-01 12:00:00+00",0.1,"\\\\x41","1 day 02:00:00",$1.50)',
      '(1,2024-03-01,"2024-03-01 12:00:00+00",0.30000000000000004,"\\\\x41","1 day 02:00:00",$1.50)',
    ]);
  });

  test('log TRUNCATE', async () => {
    await freshTable('emptied', 'id int PRIMARY KEY');
    await db.query(`INSERT INTO ${schema}.emptied SELECT generate_series(1, 5)`);
    await db.query(`TRUNCATE ${schema}.emptied`);
    expect(await getPendingChanges(db, ref('emptied'), { aggregate: true })).toEqual({ added: 5, removed: 0, updated: 0, truncated: true });
  });

  test('log the first 10,000 rows of a statement in one log row and the rest in parts', async () => {
    await freshTable('big', 'id int PRIMARY KEY, v text');
    await db.query(`INSERT INTO ${schema}.big SELECT g, 'v' || g FROM generate_series(1, 25000) g`);
    await db.query(`UPDATE ${schema}.big SET v = v || '!' WHERE id <= 10000`);
    const { rows } = await db.query(
      `SELECT action, cardinality(old_rows) AS old, cardinality(new_rows) AS new FROM splitgraph_audit.pending_changes
       WHERE relation = '${schema}.big'::regclass ORDER BY statement_id, old_rows IS NULL, cardinality(coalesce(old_rows, new_rows)) DESC`,
    );
    expect(rows).toEqual([
      { action: 'I', old: null, new: 15000 },
      { action: 'I', old: null, new: 10000 },
      { action: 'U', old: 10000, new: null },
      { action: 'U', old: null, new: 10000 },
    ]);
    expect(await getPendingChanges(db, ref('big'), { aggregate: true })).toMatchObject({ added: 25000, updated: 10000 });
    const { rows: texts } = await db.query(`SELECT count(DISTINCT r)::int AS n FROM splitgraph_audit.pending_changes, unnest(new_rows) r WHERE relation = '${schema}.big'::regclass AND action = 'I'`);
    expect(texts[0].n).toBe(25000);
    await untrackTables(db, [ref('big')], { force: true });
  });

  test('log writes by roles without rights on the audit schema', async () => {
    await freshTable('shared', 'id int PRIMARY KEY');
    await db.query(`CREATE ROLE writer; GRANT USAGE ON SCHEMA ${schema} TO writer; GRANT INSERT ON ${schema}.shared TO writer`);
    await db.query(`SET ROLE writer`);
    await db.query(`INSERT INTO ${schema}.shared VALUES (1)`);
    await db.query(`RESET ROLE`);
    expect(await getPendingChanges(db, ref('shared'), { aggregate: true })).toMatchObject({ added: 1 });
  });
});

describe('tracking', () => {
  test('lists tracked and changed tables, and discards changes without touching the data', async () => {
    await db.query(`CREATE SCHEMA listing; CREATE TABLE listing.a (id int PRIMARY KEY); CREATE TABLE listing.b (id int PRIMARY KEY)`);
    await trackTables(db, [{ schema: 'listing', table: 'b' }, { schema: 'listing', table: 'a' }]);
    await trackTables(db, [{ schema: 'listing', table: 'a' }]);
    expect(await getTrackedTables(db, 'listing')).toEqual([{ schema: 'listing', table: 'a' }, { schema: 'listing', table: 'b' }]);
    expect(await hasPendingChanges(db, 'listing')).toBe(false);
    await db.query(`INSERT INTO listing.b VALUES (1)`);
    expect(await hasPendingChanges(db, 'listing')).toBe(true);
    expect(await getChangedTables(db, 'listing')).toEqual(['b']);
    await discardPendingChanges(db, 'listing');
    expect(await hasPendingChanges(db, 'listing')).toBe(false);
    expect((await db.query(`SELECT count(*)::int AS n FROM listing.b`)).rows[0].n).toBe(1);
  });

  test('fails to untrack a table with pending changes, naming the row count, unless forced', async () => {
    await freshTable('guarded', 'id int PRIMARY KEY');
    await db.query(`INSERT INTO ${schema}.guarded SELECT generate_series(1, 7)`);
    await db.query(`DELETE FROM ${schema}.guarded WHERE id = 7`);
    const error = await untrackTables(db, [ref('guarded')]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SplitgraphError);
    expect(error).toMatchObject({ code: 'pending-changes', details: { rows: 8 } });
    expect((error as Error).message).toContain('table "tracked"."guarded" has 8 pending changed rows');
    expect(await getTrackedTables(db, schema)).toContainEqual(ref('guarded'));

    await untrackTables(db, [ref('guarded')], { force: true });
    expect(await getTrackedTables(db, schema)).not.toContainEqual(ref('guarded'));
    await db.query(`INSERT INTO ${schema}.guarded VALUES (100)`);
    expect(await getPendingChanges(db, ref('guarded'), { aggregate: true })).toEqual({ added: 0, removed: 0, updated: 0, truncated: false });
  });

  test('untracks a table without pending changes', async () => {
    await freshTable('quiet', 'id int PRIMARY KEY');
    await untrackTables(db, [ref('quiet')]);
    expect(await getTrackedTables(db, schema)).not.toContainEqual(ref('quiet'));
  });

  test('runs inside the caller\'s transaction, keeping its settings', async () => {
    await freshTable('inside', 'id int PRIMARY KEY');
    await db.query(`BEGIN`);
    await db.query(`SET LOCAL DateStyle = 'German'`);
    await db.query(`INSERT INTO ${schema}.inside VALUES (1)`);
    expect(await getPendingChanges(db, ref('inside'), { aggregate: true })).toMatchObject({ added: 1 });
    expect((await db.query(`SHOW DateStyle`)).rows[0].DateStyle).toBe('German, DMY');
    await db.query(`ROLLBACK`);
    expect(await getPendingChanges(db, ref('inside'), { aggregate: true })).toMatchObject({ added: 0 });
  });
});
