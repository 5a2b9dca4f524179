import type { Client } from 'pg';
import {
  SplitgraphError, checkout, cleanupObjects, commit, deleteRepository, deleteTag, diff, getImageTables, getPendingChanges,
  initRepository, listImages, listRepositories, log, status, tagImage, type RepositoryRef,
} from '../../src/splitgraph';
import { startTestEngine, tableText, type TestEngine } from './support';

let engine: TestEngine;
let db: Client;

beforeAll(async () => {
  engine = await startTestEngine();
  db = engine.client;
  await db.query(`CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy')`);
});
afterAll(async () => engine?.server.stop());

/** A table of most kinds of values, with the awkward ones: NULLs, NaN, -0, quotes, JSON text. */
const VARIETY = `
  CREATE TABLE %s (
    id bigint PRIMARY KEY, n numeric(12,3), f float8, r real, s text, v varchar(8), c char(3), b boolean,
    d date, ts timestamp, tz timestamptz, iv interval, raw bytea, j json, jb jsonb, ia int[], ta text[],
    grid int[][], u uuid, m public.mood, money money, net inet, p point, range int4range
  );
  INSERT INTO %s VALUES
    (1, 1.5, 0.1, 1.25, 'plain', 'short', 'ab', true, '2024-02-29', '2024-01-01 12:34:56.789012', '2024-06-01 10:00:00.123456+02',
     '1 day 02:03:04.5', '\\x00ff10', '{"k":  1, "k": 2}', '{"b": [1, {"c": null}], "a": "x"}', '{1,NULL,3}', '{"a,b","c\\"d",NULL,""}',
     '{{1,2},{3,4}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'happy', 12.34, '10.0.0.1/8', '(1.5,2)', '[1,10)'),
    (2, 'NaN', 'NaN', '-Infinity', E'quote '' backslash \\\\ newline\\n tab\\t unicode é ✓', '', '   ', false, 'infinity', '-infinity', NULL,
     '-3 years', '', '[]', 'null', '{}', '{}', NULL, NULL, 'sad', -0.01, '::1', NULL, 'empty'),
    (3, -0.000, -0.0, 3.4028235e38, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (9007199254740993, 123456789.123, 1e308, 1e-38, 'big key', 'x', 'xyz', true, '0001-01-01', '1999-12-31 23:59:59', '1970-01-01 00:00:00+00',
     '00:00:00.000001', '\\x5c', '"string"', '"string"', '{-2147483648}', '{NULL}', '{{NULL}}', '00000000-0000-0000-0000-000000000000', 'ok', 0, '0.0.0.0', '(0,0)', '(,)');
`;

async function createVariety(table: string): Promise<void> {
  await db.query(VARIETY.replace(/%s/g, table));
  // Columns named like the engine's table aliases must not be mistaken for whole rows.
  await db.query(`ALTER TABLE ${table} ADD COLUMN t text DEFAULT 'tee', ADD COLUMN o int, ADD COLUMN c2 text`);
}

async function newRepository(name: string): Promise<RepositoryRef> {
  const repo = { namespace: 'test', repository: name };
  await initRepository(db, repo);
  return repo;
}

const schemaOf = (repo: RepositoryRef) => `"test/${repo.repository}"`;

describe('commit and checkout', () => {
  test('round-trip every kind of value exactly, through snapshots and patches', async () => {
    const repo = await newRepository('variety');
    const t = `${schemaOf(repo)}.variety`;
    await createVariety(t);
    const first = await commit(db, repo, { comment: 'first' });
    expect(first.tables).toEqual({ variety: 'snapshot' });
    const v1 = await tableText(db, t);

    await db.query(`UPDATE ${t} SET s = s || '!', jb = jb || '{"new": true}', ia = ia || 4, grid = '{{5}}' WHERE id IN (1, 2)`);
    await db.query(`DELETE FROM ${t} WHERE id = 3`);
    await db.query(`INSERT INTO ${t} (id, j, tz, iv) VALUES (4, '{ "spaced" : 1 }', '2030-01-01 00:00:00.5-07', '1 mon -1 day')`);
    const second = await commit(db, repo, { comment: 'second' });
    expect(second.tables).toEqual({ variety: 'patch' });
    const v2 = await tableText(db, t);
    expect(v2).not.toEqual(v1);

    await checkout(db, repo, first.imageHash);
    expect(await tableText(db, t)).toEqual(v1);
    await checkout(db, repo, second.imageHash);
    expect(await tableText(db, t)).toEqual(v2);
    // The checked-out table keeps its key and is tracked again.
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_index WHERE indrelid = '${t}'::regclass AND indisprimary`)).rows[0].n).toBe(1);
    await db.query(`UPDATE ${t} SET b = NOT b WHERE id = 1`);
    expect(await getPendingChanges(db, { schema: 'test/variety', table: 'variety' }, { aggregate: true })).toMatchObject({ updated: 1 });
  });

  test('round-trip a table without a primary key, with duplicate rows and NULLs', async () => {
    const repo = await newRepository('loose');
    const t = `${schemaOf(repo)}.loose`;
    await db.query(`CREATE TABLE ${t} (a int, b text, doc json, arr int[])`);
    await db.query(`INSERT INTO ${t} VALUES (1, 'x', '{"a": 1}', '{1}'), (1, 'x', '{"a": 1}', '{1}'), (1, 'x', '{"a": 1}', '{1}'),
                    (NULL, NULL, NULL, NULL), (NULL, NULL, NULL, NULL), (2, '', '[]', '{}')`);
    const first = await commit(db, repo, { chunkRows: 2 });
    const v1 = await tableText(db, t);

    // Remove one of three copies, one of two all-NULL rows, add a third copy of the empty string row.
    await db.query(`DELETE FROM ${t} WHERE ctid IN (SELECT ctid FROM ${t} WHERE a = 1 LIMIT 1)`);
    await db.query(`DELETE FROM ${t} WHERE ctid IN (SELECT ctid FROM ${t} WHERE a IS NULL LIMIT 1)`);
    await db.query(`INSERT INTO ${t} SELECT * FROM ${t} WHERE a = 2`);
    await db.query(`INSERT INTO ${t} SELECT * FROM ${t} WHERE a = 2`);
    await db.query(`UPDATE ${t} SET doc = '{"a":2}' WHERE ctid IN (SELECT ctid FROM ${t} WHERE a = 1 LIMIT 1)`);
    const second = await commit(db, repo);
    expect(second.tables).toEqual({ loose: 'patch' });
    const v2 = await tableText(db, t);

    await checkout(db, repo, first.imageHash);
    expect(await tableText(db, t)).toEqual(v1);
    await checkout(db, repo, second.imageHash);
    expect(await tableText(db, t)).toEqual(v2);
    expect(v2.filter((row) => row === '(2,"",[],{})')).toHaveLength(4);
  });

  test('commit statements logged in several parts', async () => {
    const repo = await newRepository('bulk');
    const t = `${schemaOf(repo)}.t`;
    await db.query(`CREATE TABLE ${t} (id int PRIMARY KEY, v text)`);
    await db.query(`INSERT INTO ${t} SELECT g, 'v' || g FROM generate_series(1, 5000) g`);
    const first = await commit(db, repo);
    await db.query(`INSERT INTO ${t} SELECT g, 'v' || g FROM generate_series(5001, 30000) g`);
    await db.query(`UPDATE ${t} SET v = upper(v) WHERE id % 2 = 0`);
    await db.query(`DELETE FROM ${t} WHERE id % 3 = 0`);
    const expected = await tableText(db, t);
    const second = await commit(db, repo);
    expect(second.tables).toEqual({ t: 'patch' });
    await checkout(db, repo, first.imageHash);
    await checkout(db, repo, second.imageHash);
    expect(await tableText(db, t)).toEqual(expected);
  });

  test('store a table whole again after TRUNCATE, a re-added column, or lost tracking', async () => {
    const repo = await newRepository('reshaped');
    const t = `${schemaOf(repo)}.items`;
    await db.query(`CREATE TABLE ${t} (id int PRIMARY KEY, v text, w int)`);
    await db.query(`INSERT INTO ${t} SELECT g, 'v' || g, g FROM generate_series(1, 20) g`);
    await commit(db, repo);

    await db.query(`TRUNCATE ${t}`);
    await db.query(`INSERT INTO ${t} VALUES (100, 'after truncate', 1)`);
    expect((await status(db, repo)).tables).toEqual([{ table: 'items', next: 'snapshot', pending: { added: 1, removed: 0, updated: 0, truncated: true } }]);
    const truncated = await commit(db, repo);
    expect(truncated.tables).toEqual({ items: 'snapshot' });
    const afterTruncate = await tableText(db, t);
    expect(afterTruncate).toEqual(['(100,"after truncate",1)']);

    // Dropping and re-adding a column empties it without any logged row change.
    await db.query(`ALTER TABLE ${t} DROP COLUMN w`);
    await db.query(`ALTER TABLE ${t} ADD COLUMN w int`);
    const readded = await commit(db, repo);
    expect(readded.tables).toEqual({ items: 'snapshot' });

    await db.query(`ALTER TABLE ${t} DISABLE TRIGGER splitgraph_capture_update`);
    await db.query(`UPDATE ${t} SET v = 'unlogged'`);
    expect((await status(db, repo)).tables[0].next).toBe('snapshot');
    const untracked = await commit(db, repo);
    expect(untracked.tables).toEqual({ items: 'snapshot' });

    await checkout(db, repo, truncated.imageHash);
    expect(await tableText(db, t)).toEqual(afterTruncate);
    await checkout(db, repo, untracked.imageHash);
    expect(await tableText(db, t)).toEqual(['(100,unlogged,)']);
  });

  test('add, drop and keep tables between images', async () => {
    const repo = await newRepository('tables');
    const s = schemaOf(repo);
    await db.query(`CREATE TABLE ${s}.kept (id int PRIMARY KEY); INSERT INTO ${s}.kept VALUES (1)`);
    await db.query(`CREATE TABLE ${s}.dropped (id int PRIMARY KEY); INSERT INTO ${s}.dropped VALUES (2)`);
    const first = await commit(db, repo);
    await db.query(`DROP TABLE ${s}.dropped`);
    await db.query(`CREATE TABLE ${s}.added (id int PRIMARY KEY, v text); INSERT INTO ${s}.added VALUES (3, 'three')`);
    const second = await commit(db, repo);
    expect(second.tables).toEqual({ added: 'snapshot', kept: 'unchanged' });
    expect([...(await getImageTables(db, repo, second.imageHash)).keys()]).toEqual(['added', 'kept']);

    const keptOid = (await db.query(`SELECT '${s}.kept'::regclass::oid AS oid`)).rows[0].oid;
    await checkout(db, repo, first.imageHash);
    const tables = (await db.query(`SELECT relname FROM pg_class WHERE relnamespace = '${s}'::regnamespace AND relkind = 'r' ORDER BY 1`)).rows;
    expect(tables.map((r) => r.relname)).toEqual(['dropped', 'kept']);
    // An unchanged table is kept as it is, not rebuilt.
    expect((await db.query(`SELECT '${s}.kept'::regclass::oid AS oid`)).rows[0].oid).toBe(keptOid);
  });

  test('fails to check out over pending changes or uncommitted tables, unless forced', async () => {
    const repo = await newRepository('careful');
    const t = `${schemaOf(repo)}.t`;
    await db.query(`CREATE TABLE ${t} (id int PRIMARY KEY)`);
    const first = await commit(db, repo);
    await db.query(`INSERT INTO ${t} SELECT generate_series(1, 3)`);
    const error = await checkout(db, repo, first.imageHash).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SplitgraphError);
    expect(error).toMatchObject({ code: 'pending-changes', details: { rows: 3 } });
    expect((error as Error).message).toContain('repository test/careful has 3 pending changed rows');

    await db.query(`CREATE TABLE ${schemaOf(repo)}.scratch (x int)`);
    await db.query(`TRUNCATE ${t}`);
    await db.query(`SELECT splitgraph_api.get_current_username()`);
    await expect(checkout(db, repo, first.imageHash, {})).rejects.toMatchObject({ code: 'pending-changes' });

    await checkout(db, repo, first.imageHash, { force: true });
    expect(await tableText(db, t)).toEqual([]);
    expect((await db.query(`SELECT to_regclass('${schemaOf(repo)}.scratch') AS t`)).rows[0].t).toBeNull();
    expect((await status(db, repo)).changed).toBe(false);
  });

  test('waits for writers in flight and loses no write made during a commit', async () => {
    const repo = await newRepository('busy');
    const t = `${schemaOf(repo)}.events`;
    await db.query(`CREATE TABLE ${t} (id int PRIMARY KEY, v text)`);
    await commit(db, repo);
    const writer = await engine.server.connect();
    await writer.query(`BEGIN`);
    await writer.query(`INSERT INTO ${t} VALUES (1, 'in flight')`);
    const committing = commit(db, repo);
    // The commit waits for the writer's transaction: its table lock conflicts with the writer's.
    const observer = await engine.server.connect();
    let waiting = false;
    for (let i = 0; i < 250 && !waiting; i++) {
      const { rows } = await observer.query(`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = '${t}'::regclass`);
      waiting = rows[0].n > 0;
      if (!waiting) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(waiting).toBe(true);
    // A second writer now queues behind the commit.
    const late = observer.query(`INSERT INTO ${t} VALUES (2, 'during commit')`);
    await writer.query(`COMMIT`);
    const result = await committing;
    await late;
    expect(result.tables).toEqual({ events: 'patch' });
    expect(await getPendingChanges(db, { schema: 'test/busy', table: 'events' })).toEqual([
      { kind: 'insert', key: { id: 2 }, oldRow: null, newRow: { id: 2, v: 'during commit' } },
    ]);
    const second = await commit(db, repo);
    await checkout(db, repo, result.imageHash);
    expect(await tableText(db, t)).toEqual(['(1,"in flight")']);
    await checkout(db, repo, second.imageHash);
    expect(await tableText(db, t)).toEqual(['(1,"in flight")', '(2,"during commit")']);
  });
});

describe('content addressing', () => {
  test('gives identical content identical object ids, across repositories and commits', async () => {
    const a = await newRepository('twin_a');
    const b = await newRepository('twin_b');
    // Same rows, written in different orders and statements.
    await db.query(`CREATE TABLE ${schemaOf(a)}.t (id int PRIMARY KEY, v text); INSERT INTO ${schemaOf(a)}.t SELECT g, 'v' || g FROM generate_series(1, 25) g`);
    await db.query(`CREATE TABLE ${schemaOf(b)}.t (id int PRIMARY KEY, v text); INSERT INTO ${schemaOf(b)}.t SELECT g, 'v' || g FROM generate_series(25, 1, -1) g`);
    await db.query(`CREATE TABLE ${schemaOf(a)}.bag (x int, y text); INSERT INTO ${schemaOf(a)}.bag VALUES (1, 'a'), (2, NULL), (1, 'a')`);
    await db.query(`CREATE TABLE ${schemaOf(b)}.bag (x int, y text); INSERT INTO ${schemaOf(b)}.bag VALUES (2, NULL), (1, 'a'), (1, 'a')`);
    const ca = await commit(db, a, { chunkRows: 10 });
    const cb = await commit(db, b, { chunkRows: 10 });
    const ta = await getImageTables(db, a, ca.imageHash);
    const tb = await getImageTables(db, b, cb.imageHash);
    expect(ta.get('t')!.objectIds).toHaveLength(3);
    expect(tb.get('t')!.objectIds).toEqual(ta.get('t')!.objectIds);
    expect(tb.get('bag')!.objectIds).toEqual(ta.get('bag')!.objectIds);

    // The same change gives the same patch.
    for (const repo of [a, b]) await db.query(`UPDATE ${schemaOf(repo)}.t SET v = 'changed' WHERE id = 7`);
    const pa = await commit(db, a);
    const pb = await commit(db, b);
    expect((await getImageTables(db, b, pb.imageHash)).get('t')!.objectIds).toEqual((await getImageTables(db, a, pa.imageHash)).get('t')!.objectIds);

    // A snapshot of unchanged content reuses the objects; other content or columns do not.
    const again = await commit(db, a, { snapshot: true, chunkRows: 10 });
    const resnapshot = (await getImageTables(db, a, again.imageHash)).get('t')!.objectIds;
    expect(resnapshot).toHaveLength(3);
    // Row 7 is in the first chunk: only that chunk is new.
    expect(resnapshot.slice(1)).toEqual(ta.get('t')!.objectIds.slice(1));
    expect(resnapshot[0]).not.toBe(ta.get('t')!.objectIds[0]);
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM splitgraph_meta.objects`);
    const objectsBefore = rows[0].n;
    await commit(db, a, { snapshot: true, chunkRows: 10 });
    expect((await db.query(`SELECT count(*)::int AS n FROM splitgraph_meta.objects`)).rows[0].n).toBe(objectsBefore);
  });
});

describe('history', () => {
  test('tags, logs, lists and resolves images', async () => {
    const repo = await newRepository('history');
    await db.query(`CREATE TABLE ${schemaOf(repo)}.t (id int PRIMARY KEY)`);
    const first = await commit(db, repo, { comment: 'one' });
    await db.query(`INSERT INTO ${schemaOf(repo)}.t VALUES (1)`);
    const second = await commit(db, repo, { comment: 'two' });
    await tagImage(db, repo, first.imageHash.slice(0, 10), 'v1');
    await tagImage(db, repo, 'HEAD', 'latest');
    expect((await log(db, repo)).map((i) => [i.comment, i.tags])).toEqual([['two', ['HEAD', 'latest']], ['one', ['v1']], [null, []]]);
    expect((await log(db, repo, 'v1')).map((i) => i.imageHash)).toEqual([first.imageHash, '0'.repeat(64)]);
    expect((await listImages(db, repo)).map((i) => i.imageHash)).toEqual(['0'.repeat(64), first.imageHash, second.imageHash]);
    await checkout(db, repo, 'v1');
    expect((await status(db, repo)).head).toBe(first.imageHash);
    await deleteTag(db, repo, 'v1');
    await expect(checkout(db, repo, 'v1')).rejects.toMatchObject({ code: 'not-found' });
    await expect(tagImage(db, repo, 'latest', 'HEAD')).rejects.toMatchObject({ code: 'invalid-argument' });
    expect(await listRepositories(db)).toContainEqual({ namespace: 'test', repository: 'history' });
  });

  test('diffs the schema against HEAD and against any image', async () => {
    const repo = await newRepository('diffed');
    const s = schemaOf(repo);
    await db.query(`CREATE TABLE ${s}.t (id int PRIMARY KEY, v text); INSERT INTO ${s}.t VALUES (1, 'a'), (2, 'b')`);
    await db.query(`CREATE TABLE ${s}.gone (id int PRIMARY KEY); INSERT INTO ${s}.gone VALUES (1)`);
    const first = await commit(db, repo);
    await db.query(`UPDATE ${s}.t SET v = 'A' WHERE id = 1; DELETE FROM ${s}.t WHERE id = 2; INSERT INTO ${s}.t VALUES (3, 'c')`);
    await db.query(`DROP TABLE ${s}.gone; CREATE TABLE ${s}.fresh (x int); INSERT INTO ${s}.fresh VALUES (1), (1)`);
    const pending = await diff(db, repo);
    expect(pending.map(({ rows: _rows, ...rest }) => rest)).toEqual([
      { table: 'fresh', status: 'added', inserted: 2, deleted: 0, updated: 0 },
      { table: 'gone', status: 'removed', inserted: 0, deleted: 1, updated: 0 },
      { table: 't', status: 'modified', inserted: 1, deleted: 1, updated: 1 },
    ]);
    const rows = (await diff(db, repo, { table: 't', rows: true }))[0].rows!;
    expect(rows.map((r) => [r.kind, r.key])).toEqual([['update', { id: 1 }], ['delete', { id: 2 }], ['insert', { id: 3 }]]);

    await commit(db, repo);
    expect((await diff(db, repo)).every((d) => d.status === 'unchanged')).toBe(true);
    const againstFirst = await diff(db, repo, { against: first.imageHash, table: 't', rows: true });
    expect(againstFirst[0]).toMatchObject({ status: 'modified', inserted: 1, deleted: 1, updated: 1 });
    expect(againstFirst[0].rows!.map((r) => r.kind)).toEqual(['update', 'delete', 'insert']);
  });

  test('deletes a repository, then its unused objects', async () => {
    const repo = await newRepository('doomed');
    await db.query(`CREATE TABLE ${schemaOf(repo)}.t (id int PRIMARY KEY, v text); INSERT INTO ${schemaOf(repo)}.t VALUES (424242, 'only here')`);
    const { imageHash } = await commit(db, repo);
    const [objectId] = (await getImageTables(db, repo, imageHash)).get('t')!.objectIds;
    await deleteRepository(db, repo);
    expect((await db.query(`SELECT to_regnamespace('${schemaOf(repo)}') AS s`)).rows[0].s).toBeNull();
    expect(await cleanupObjects(db)).toContain(objectId);
    expect((await db.query(`SELECT to_regclass('splitgraph_meta.${objectId}') AS t`)).rows[0].t).toBeNull();
  });
});
